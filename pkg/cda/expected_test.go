package cda

// The expected extraction of every official example, field by field, as
// JSON (what consumers see). Each value was checked against the example's
// XML by hand; a change here is a change of the extractor's contract.
var expectedExtraction = map[string]string{
	ex2017: `{
 "header": {
  "document_id": "1.2.250.1.213.1.1.9^452214-1",
  "set_id": "1.2.250.1.213.1.1.9^452214",
  "version_number": 1,
  "effective_time": "20190128",
  "model_version": "2017",
  "custodian_id": "101238887",
  "finess": "101238887",
  "patient": {
   "ins": "2401192050628",
   "ins_root": "1.2.250.1.213.1.4.8",
   "ipp": [
    {
     "root": "1.2.3.4.5.6.7.8.9.10",
     "extension": "1234567890112345678902"
    }
   ],
   "birth_family": "MARTIN",
   "given": "Jeanne",
   "sex": "F",
   "birth_time": "19401110",
   "residence_code": "75056",
   "insc": "2401192050628",
   "used_family": "DUPONT"
  },
  "custodian_name": "HU ROBERT DEBRE APHP",
  "author": {
   "id": {
    "root": "1.2.250.1.71.4.2.1",
    "extension": "801234567897"
   },
   "rpps": "01234567897",
   "profession": {
    "code": "G15_10/SCH39",
    "system": "1.2.250.1.213.1.1.4.5",
    "display": "Médecin - Médecine interne (SCH)"
   },
   "name": "Dr Charles BOILEAU"
  },
  "organisations": [
   {
    "role": "custodian",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "101238887"
    },
    "name": "HU ROBERT DEBRE APHP"
   },
   {
    "role": "legal_authenticator",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "101238887"
    },
    "name": "HU ROBERT DEBRE APHP"
   },
   {
    "role": "service_event_performer",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "101238887"
    },
    "name": "HU ROBERT DEBRE APHP"
   }
  ],
  "service_event": {
   "code": "P2-00130",
   "system": "1.2.250.1.213.2.12",
   "display": "Consultation"
  },
  "consents": [
   {
    "kind": "non_opposition",
    "code": {
     "code": "64292-6",
     "system": "2.16.840.1.113883.6.1",
     "display": "Non-opposition du patient pour réutilisation des données"
    },
    "source": "body"
   }
  ],
  "facility": {
   "code": "SA01",
   "system": "1.2.250.1.71.4.2.4",
   "display": "Etablissement public de santé"
  }
 },
 "body": {
  "file": {
   "id": {
    "root": "251dfc28-cdcf-4086-a7b9-181fcc857aa6"
   },
   "created": "20181213",
   "updated": "20181213"
  },
  "care_episodes": [
   {
    "id": {
     "root": "12da3a06-18e7-40b7-9397-1fa5b1552472"
    },
    "type": {
     "code": "AMB",
     "system": "2.16.840.1.113883.5.4",
     "display": "Ambulatoire"
    },
    "inclusion_date": "20181213",
    "referent": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "referred_by": [
     {
      "code": "ORG-020",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "association de patients"
     }
    ],
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d’Ile-De-France - [COO] - Alain VERLOES"
    },
    "outside_labelling": true
   }
  ],
  "activities": [
   {
    "id": {
     "root": "ea461bc2-e7fa-4694-96ce-4b4561bbdd82"
    },
    "context": {
     "code": "ORG-029",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Avis sur dossier en consultation"
    },
    "date": "20181213",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10/SCH39",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin - Médecine interne (SCH)"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d’Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_commune": "75056",
    "country": {
     "code": "FR",
     "system": "1.0.3166.2.2.2",
     "display": "FRANCE"
    },
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ]
   }
  ],
  "diagnoses": [
   {
    "id": {
     "root": "747f5e7f-1d86-4c73-ae4e-14263a706d76"
    },
    "date": "20181213",
    "disease": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "status": {
     "code": "GEN-034",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "en cours"
    },
    "clinical_features": [
     {
      "code": "98006",
      "system": "1.2.250.1.213.2.49.2",
      "display": "Maladie neurologique rare"
     },
     {
      "code": "R36.6",
      "system": "2.16.840.1.113883.6.3",
      "display": "Démarche ataxique"
     }
    ],
    "sporadic_familial": {
     "code": "G-A646",
     "system": "1.2.250.1.213.2.12",
     "display": "Sporadique"
    },
    "onset_age_class": {
     "code": "GEN-020",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "à l'âge de"
    },
    "onset_age": {
     "value": 5,
     "unit": "mois"
    },
    "appraisal_on_entry": {
     "code": "MED-426",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "absent"
    },
    "clinical_diagnosis_age_class": {
     "code": "GEN-020",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "à l'âge de"
    },
    "clinical_diagnosis_age": {
     "value": 12,
     "unit": "mois"
    },
    "techniques": [
     {
      "code": "GEN-092",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Autre"
     }
    ],
    "genes": [
     {
      "code": "HGNC:39983",
      "system": "2.16.840.1.113883.4.642.2.468",
      "display": "ABCA9 antisense RNA 1"
     }
    ],
    "investigations": [
     {
      "code": "G-A304",
      "system": "1.2.250.1.213.2.12",
      "display": "clinique"
     }
    ],
    "apparently_healthy": false,
    "mutations": "texte pour décrire la mutation"
   }
  ],
  "family_history": [
   {
    "relationship": {
     "code": "PCOUSN",
     "system": "2.16.840.1.113883.5.111",
     "display": "Cousin"
    },
    "first_case_id": {
     "root": "1.2.3.4.5.6.7.8.9.10",
     "extension": "1234567890112345678902"
    },
    "first_case_sex": "M",
    "disease_text": "-"
   }
  ],
  "active_problems": [
   {
    "code": {
     "code": "F-01000",
     "system": "1.2.250.1.213.2.12",
     "display": "Problème"
    },
    "value": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "date": "20181213",
    "health_status": {
     "null_flavor": "UNK"
    },
    "status": {
     "code": "G-A230",
     "system": "1.2.250.1.213.2.12",
     "display": "Actif"
    }
   }
  ],
  "consanguinity": true,
  "antenatal": {
   "art": true,
   "art_date": "20100501",
   "malformation": {
    "code": "G-A224",
    "system": "1.2.250.1.213.2.12",
    "display": "unique"
   },
   "gestational_age": {
    "value": 2,
    "unit": "semaines"
   },
   "birth_weight": {
    "value": 2500,
    "unit": "g"
   },
   "birth_length": {
    "value": 40,
    "unit": "cm"
   },
   "head_circumference": {
    "value": 17,
    "unit": "cm"
   }
  },
  "research": {
   "protocol_participant": true,
   "contact_consent": true,
   "sample_research": false,
   "sample_molecular": true
  },
  "treatments": [
   {
    "start": "20170511000000",
    "end": "20170611000000",
    "product": {
     "code": "EMEA/H/C/002221",
     "system": "1.2.250.1.213.2.50",
     "display": "Dacogen"
    },
    "translations": [
     {
      "code": "L01BC08",
      "system": "2.16.840.1.113883.6.73",
      "display": "decitabine"
     }
    ]
   }
  ]
 }
}`,
	ex2021: `{
 "header": {
  "document_id": "2459B85D-09CB-4581-9AAB-976C1A011021",
  "set_id": "4DD890B3-9978-4943-AA14-67756C5A5ECB",
  "version_number": 1,
  "effective_time": "20190128154500+0100",
  "model_version": "2021.01",
  "custodian_id": "101238887",
  "finess": "101238887",
  "patient": {
   "ins": "277076322082910",
   "ins_root": "1.2.250.1.213.1.4.8",
   "ipp": [
    {
     "root": "1.2.3.4.567.8.9.10",
     "extension": "1234567890121"
    }
   ],
   "birth_family": "NESSI",
   "birth_given": "RUTH",
   "given": "ISABELLE",
   "sex": "F",
   "birth_time": "19770714",
   "birth_place": "63220",
   "used_family": "DECOURCY"
  },
  "custodian_name": "HU ROBERT DEBRE APHP",
  "author": {
   "id": {
    "root": "1.2.250.1.71.4.2.1",
    "extension": "801234567897"
   },
   "rpps": "01234567897",
   "profession": {
    "code": "G15_10/SCH39",
    "system": "1.2.250.1.213.1.1.4.5",
    "display": "Médecin - Médecine interne (SCH)"
   },
   "name": "DR Charles BOILEAU"
  },
  "organisations": [
   {
    "role": "custodian",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "101238887"
    },
    "name": "HU ROBERT DEBRE APHP"
   },
   {
    "role": "legal_authenticator",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "101238887"
    },
    "name": "HU ROBERT DEBRE APHP"
   },
   {
    "role": "service_event_performer",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "101238887"
    },
    "name": "HU ROBERT DEBRE APHP"
   }
  ],
  "service_event": {
   "code": "P2-00130",
   "system": "1.2.250.1.213.2.12",
   "display": "Consultation"
  },
  "consents": [
   {
    "kind": "non_opposition",
    "code": {
     "code": "64292-6",
     "system": "2.16.840.1.113883.6.1",
     "display": "Non-opposition du patient pour réutilisation des données"
    },
    "source": "body"
   }
  ],
  "facility": {
   "code": "SA01",
   "system": "1.2.250.1.71.4.2.4",
   "display": "Etablissement public de santé"
  }
 },
 "body": {
  "file": {
   "id": {
    "root": "33341B85-96D9-4FFC-A165-37152FEA4FE1"
   },
   "created": "20181213",
   "updated": "20181213"
  },
  "care_episodes": [
   {
    "id": {
     "root": "6917FE7A-2F04-458E-8224-D273C6B643E7"
    },
    "type": {
     "code": "ORG-045",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Hospitalisation traditionnelle"
    },
    "inclusion_date": "20181213",
    "referent": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "referred_by": [
     {
      "code": "ORG-020",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "association de patients"
     }
    ],
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "outside_labelling": true
   }
  ],
  "activities": [
   {
    "id": {
     "root": "C38D726B-6DE0-43A0-B309-96FF1D524888"
    },
    "context": {
     "code": "ORG-029",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Avis sur dossier en consultation"
    },
    "date": "20181213",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10/SCH39",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin - Médecine interne (SCH)"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_commune": "75056",
    "country": {
     "code": "FR",
     "system": "1.0.3166.2.2.2",
     "display": "FRANCE"
    },
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ]
   }
  ],
  "diagnoses": [
   {
    "id": {
     "root": "5F7B8B9A-83D6-4B26-BB30-1D7B95F9FF71"
    },
    "date": "201812130000",
    "disease": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "status": {
     "code": "GEN-034",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "en cours"
    },
    "clinical_features": [
     {
      "code": "98006",
      "system": "1.2.250.1.213.2.49.2",
      "display": "Maladie neurologique rare"
     },
     {
      "code": "R26.0",
      "system": "2.16.840.1.113883.6.3",
      "display": "Démarche ataxique"
     }
    ],
    "sporadic_familial": {
     "code": "G-A646",
     "system": "1.2.250.1.213.2.12",
     "display": "Sporadique"
    },
    "onset_age_class": {
     "code": "GEN-020",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "à l'âge de"
    },
    "onset_age": {
     "value": 5,
     "unit": "mo"
    },
    "appraisal_on_entry": {
     "code": "MED-426",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "absent"
    },
    "clinical_diagnosis_age_class": {
     "code": "GEN-020",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "à l'âge de"
    },
    "clinical_diagnosis_age": {
     "value": 12,
     "unit": "mo"
    },
    "techniques": [
     {
      "code": "GEN-092",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Autre"
     }
    ],
    "genes": [
     {
      "code": "HGNC:39983",
      "system": "2.16.840.1.113883.4.642.2.468",
      "display": "ABCA9 antisense RNA 1"
     }
    ],
    "investigations": [
     {
      "code": "G-A304",
      "system": "1.2.250.1.213.2.12",
      "display": "clinique"
     }
    ],
    "apparently_healthy": false,
    "mutations": "texte pour décrire la mutation"
   }
  ],
  "family_history": [
   {
    "relationship": {
     "code": "PCOUSN",
     "system": "2.16.840.1.113883.5.111",
     "display": "Cousin"
    },
    "first_case_id": {
     "root": "1.2.3.4.5.6.7.8.9.10",
     "extension": "1234567890112345678902"
    },
    "first_case_sex": "M",
    "disease_text": "-"
   }
  ],
  "active_problems": [
   {
    "code": {
     "code": "F-01000",
     "system": "1.2.250.1.213.2.12",
     "display": "Problème"
    },
    "value": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "date": "20181213",
    "health_status": {
     "code": "CDA_004",
     "system": "1.2.250.1.213.1.1.4.2.286",
     "display": "Malade chronique"
    },
    "status": {
     "code": "G-A230",
     "system": "1.2.250.1.213.2.12",
     "display": "Actif"
    }
   }
  ],
  "consanguinity": true,
  "antenatal": {
   "art": true,
   "art_date": "20100501",
   "malformation": {
    "code": "G-A224",
    "system": "1.2.250.1.213.2.12",
    "display": "unique"
   },
   "gestational_age": {
    "value": 2,
    "unit": "wk"
   },
   "birth_weight": {
    "value": 2500,
    "unit": "g"
   },
   "birth_length": {
    "value": 40,
    "unit": "cm"
   },
   "head_circumference": {
    "value": 17,
    "unit": "cm"
   }
  },
  "research": {
   "protocol_participant": true,
   "contact_consent": true,
   "sample_research": false,
   "sample_molecular": true
  },
  "treatments": [
   {
    "start": "20170511000000",
    "end": "20170611000000",
    "product": {
     "code": "EMEA/H/C/002221",
     "system": "1.2.250.1.213.2.50",
     "display": "Dacogen"
    },
    "translations": [
     {
      "code": "L01BC08",
      "system": "2.16.840.1.113883.6.73",
      "display": "decitabine"
     }
    ]
   }
  ]
 }
}`,
	ex2022: `{
 "header": {
  "document_id": "1.2.250.1.213.1.1.1.30.2022.1.1",
  "set_id": "1.2.250.1.213.1.1.1.30.2022.1",
  "version_number": 1,
  "effective_time": "20190128154500+0100",
  "model_version": "2022.01",
  "custodian_id": "1750803447",
  "finess": "750803447",
  "patient": {
   "ins": "279035121518989",
   "ins_root": "1.2.250.1.213.1.4.10",
   "ipp": [
    {
     "root": "1.2.3.4.567.8.9.10",
     "extension": "1234567890121"
    }
   ],
   "birth_family": "PAT-TROIS",
   "birth_given": "DOMINIQUE",
   "given": "DOMINIQUE MARIE-LOUISE",
   "sex": "F",
   "birth_time": "19790328",
   "birth_place": "51215",
   "used_family": "PAT-TROIS",
   "used_given": "DOMINIQUE"
  },
  "custodian_name": "HU ROBERT DEBRE APHP",
  "author": {
   "id": {
    "root": "1.2.250.1.71.4.2.1",
    "extension": "801234567897"
   },
   "rpps": "01234567897",
   "profession": {
    "code": "G15_10",
    "system": "1.2.250.1.213.1.1.4.5",
    "display": "Médecin"
   },
   "name": "DR Charles BOILEAU"
  },
  "organisations": [
   {
    "role": "custodian",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803447"
    },
    "finess": "750803447",
    "name": "HU ROBERT DEBRE APHP"
   },
   {
    "role": "legal_authenticator",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803447"
    },
    "finess": "750803447",
    "name": "HU ROBERT DEBRE APHP"
   },
   {
    "role": "service_event_performer",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803447"
    },
    "finess": "750803447",
    "name": "HU ROBERT DEBRE APHP"
   }
  ],
  "service_event": {
   "code": "11429006",
   "system": "2.16.840.1.113883.6.96",
   "display": "consultation"
  },
  "consents": [
   {
    "kind": "non_opposition",
    "code": {
     "code": "64292-6",
     "system": "2.16.840.1.113883.6.1",
     "display": "Non-opposition du patient pour réutilisation des données"
    },
    "source": "header"
   }
  ],
  "facility": {
   "code": "SA01",
   "system": "1.2.250.1.71.4.2.4",
   "display": "Etablissement public de santé"
  }
 },
 "body": {
  "file": {
   "id": {
    "root": "33341B85-96D9-4FFC-A165-37152FEA4FE1"
   },
   "created": "20181213",
   "updated": "20181213"
  },
  "care_episodes": [
   {
    "id": {
     "root": "6917FE7A-2F04-458E-8224-D273C6B643E7"
    },
    "type": {
     "code": "IMP",
     "system": "2.16.840.1.113883.5.4",
     "display": "Hospitalisation (établissement, y compris HAD)"
    },
    "inclusion_date": "20181213",
    "referent": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "referred_by": [
     {
      "code": "ORG-020",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "association de patients"
     }
    ],
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "outside_labelling": true
   }
  ],
  "activities": [
   {
    "id": {
     "root": "C38D726B-6DE0-43A0-B309-96FF1D524888"
    },
    "context": {
     "code": "ORG-029",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Avis sur dossier en consultation"
    },
    "date": "20181213",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_commune": "75056",
    "country": {
     "code": "FR",
     "system": "1.0.3166.2.2.2",
     "display": "FRANCE"
    },
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ]
   }
  ],
  "diagnoses": [
   {
    "id": {
     "root": "5F7B8B9A-83D6-4B26-BB30-1D7B95F9FF71"
    },
    "date": "201812130000",
    "disease": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "status": {
     "code": "385651009",
     "system": "2.16.840.1.113883.6.96",
     "display": "en cours d'exécution"
    },
    "clinical_features": [
     {
      "code": "98006",
      "system": "1.2.250.1.213.2.49.2",
      "display": "Maladie neurologique rare"
     },
     {
      "code": "R26.0",
      "system": "2.16.840.1.113883.6.3",
      "display": "Démarche ataxique"
     }
    ],
    "sporadic_familial": {
     "code": "75741005",
     "system": "2.16.840.1.113883.6.96",
     "display": "sporadique"
    },
    "onset_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "onset_age": {
     "value": 5,
     "unit": "mo"
    },
    "appraisal_on_entry": {
     "code": "2667000",
     "system": "2.16.840.1.113883.6.96",
     "display": "absent"
    },
    "clinical_diagnosis_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "clinical_diagnosis_age": {
     "value": 12,
     "unit": "mo"
    },
    "techniques": [
     {
      "code": "GEN-092.04.17",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Autre technique diagnostic"
     }
    ],
    "genes": [
     {
      "code": "HGNC:39983",
      "system": "2.16.840.1.113883.4.642.2.468",
      "display": "ABCA9 antisense RNA 1"
     }
    ],
    "investigations": [
     {
      "code": "58147004",
      "system": "2.16.840.1.113883.6.96",
      "display": "clinique"
     }
    ],
    "apparently_healthy": false,
    "mutations": "texte pour décrire la mutation"
   }
  ],
  "family_history": [
   {
    "relationship": {
     "code": "PCOUSN",
     "system": "2.16.840.1.113883.5.111",
     "display": "Cousin"
    },
    "first_case_id": {
     "root": "1.2.3.4.5.6.7.8.9.10",
     "extension": "1234567890112345678902"
    },
    "first_case_sex": "M",
    "disease_text": "-"
   }
  ],
  "active_problems": [
   {
    "code": {
     "code": "55607006",
     "system": "2.16.840.1.113883.6.96",
     "display": "problème"
    },
    "value": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "date": "20181213",
    "health_status": {
     "code": "27624003",
     "system": "2.16.840.1.113883.6.96",
     "display": "maladie chronique"
    },
    "certainty": {
     "code": "confirmed",
     "system": "2.16.840.1.113883.4.642.1.1075",
     "display": "Confirmé"
    }
   }
  ],
  "consanguinity": true,
  "antenatal": {
   "art": true,
   "art_date": "20100501",
   "malformation": {
    "code": "50607009",
    "system": "2.16.840.1.113883.6.96",
    "display": "unique"
   },
   "gestational_age": {
    "value": 2,
    "unit": "wk"
   },
   "birth_weight": {
    "value": 2500,
    "unit": "g"
   },
   "birth_length": {
    "value": 40,
    "unit": "cm"
   },
   "head_circumference": {
    "value": 17,
    "unit": "cm"
   }
  },
  "research": {
   "protocol_participant": true,
   "contact_consent": true,
   "sample_research": false,
   "sample_molecular": true
  },
  "treatments": [
   {
    "start": "20170511000000",
    "end": "20170611000000",
    "translations": [
     {
      "code": "EMEA/H/C/002221",
      "system": "1.2.250.1.213.2.50",
      "display": "Dacogen"
     },
     {
      "code": "L01BC08",
      "system": "2.16.840.1.113883.6.73",
      "display": "decitabine"
     }
    ],
    "name": "Dacogen"
   }
  ]
 }
}`,
	exNewborn: `{
 "header": {
  "document_id": "1.2.250.1.213.1.1.1.30.2024.1.1",
  "set_id": "1.2.250.1.213.1.1.1.30.2024.1",
  "version_number": 2,
  "effective_time": "20240228160000+0100",
  "model_version": "2024.01",
  "custodian_id": "1750803454",
  "finess": "750803454",
  "patient": {
   "ins": "224027511583555",
   "ins_root": "1.2.250.1.213.1.4.10",
   "ipp": [
    {
     "root": "1.2.3.4.567.8.9.10",
     "extension": "9ec5518caaab70962222"
    },
    {
     "root": "1.2.3.4.567.8.9.11",
     "extension": "8ec5518caaab70961082"
    }
   ],
   "birth_family": "DECOURCY",
   "birth_given": "Léa",
   "given": "Léa Marie",
   "sex": "F",
   "birth_time": "20240228",
   "birth_place": "75115",
   "residence_code": "75056",
   "used_family": "DECOURCY",
   "multiple_birth": true,
   "birth_order": 1,
   "mother": {
    "relationship": "MTH",
    "birth_family": "NESSI",
    "birth_given": "Ruth"
   }
  },
  "custodian_name": "GHU APHP NUP SITE ROBERT DEBRE",
  "author": {
   "id": {
    "root": "1.2.250.1.71.4.2.1",
    "extension": "801234567897"
   },
   "rpps": "01234567897",
   "profession": {
    "code": "G15_10",
    "system": "1.2.250.1.213.1.1.4.5",
    "display": "Médecin"
   },
   "name": "DR Charles BOILEAU"
  },
  "organisations": [
   {
    "role": "custodian",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "legal_authenticator",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "service_event_performer",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "participant_scoping",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "2801234567"
    },
    "name": "Centre de soins le Belvédère"
   }
  ],
  "service_event": {
   "code": "11429006",
   "system": "2.16.840.1.113883.6.96",
   "display": "consultation"
  },
  "consents": [
   {
    "kind": "opposition",
    "code": {
     "code": "GEN-315",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Le patient (ou son représentant légal) s'oppose à la réutilisation de ses données dans l’entrepôt de données de santé BNDMR."
    },
    "source": "header"
   },
   {
    "kind": "ern_registry",
    "code": {
     "code": "GEN-320",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Le patient a signé son consentement à la transmission des données au registre ERN EuRREB"
    },
    "source": "header"
   }
  ],
  "facility": {
   "code": "SA01",
   "system": "1.2.250.1.71.4.2.4",
   "display": "Etablissement public de santé"
  }
 },
 "body": {
  "file": {
   "id": {
    "root": "33341B85-96D9-4FFC-A165-37152FEA4ZA5"
   },
   "created": "20240228",
   "updated": "20240228160000"
  },
  "care_episodes": [
   {
    "id": {
     "root": "6917FE7A-2F04-458E-8224-D273C6B643E7"
    },
    "type": {
     "code": "IMP",
     "system": "2.16.840.1.113883.5.4",
     "display": "Hospitalisation"
    },
    "inclusion_date": "20181213",
    "referent": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "referred_by": [
     {
      "code": "ORG-020",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Association de patients"
     }
    ],
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "outside_labelling": true
   }
  ],
  "activities": [
   {
    "id": {
     "root": "C38D726B-6DE0-43A0-B309-96FF1D525588"
    },
    "context": {
     "code": "GEN-092.05.04",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Autre contexte"
    },
    "date": "20240228",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_finess": "750803454",
    "consultation_commune": "75056",
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ]
   }
  ],
  "diagnoses": [
   {
    "id": {
     "root": "5F7B8B9A-83D6-4B26-BB30-1D7B95F9FF71"
    },
    "date_unknown": true,
    "disease": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "status": {
     "code": "385651009",
     "system": "2.16.840.1.113883.6.96",
     "display": "en cours d'exécution"
    },
    "clinical_features": [
     {
      "code": "98006",
      "system": "1.2.250.1.213.2.49.2",
      "display": "Maladie neurologique rare"
     }
    ],
    "sporadic_familial": {
     "code": "75741005",
     "system": "2.16.840.1.113883.6.96",
     "display": "sporadique"
    },
    "onset_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "onset_age": {
     "value": 1,
     "unit": "mo"
    },
    "appraisal_on_entry": {
     "code": "2667000",
     "system": "2.16.840.1.113883.6.96",
     "display": "absent"
    },
    "clinical_diagnosis_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "clinical_diagnosis_age": {
     "value": 1,
     "unit": "mo"
    },
    "genetic_diagnosis_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "genetic_diagnosis_age": {
     "value": 1,
     "unit": "mo"
    },
    "techniques": [
     {
      "code": "GEN-092.04.17",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Autre technique diagnostic"
     }
    ],
    "genes": [
     {
      "code": "HGNC:39983",
      "system": "2.16.840.1.113883.4.642.2.468",
      "display": "ABCA9 antisense RNA 1"
     }
    ],
    "other_genetic": "(texte libre)",
    "comment": "(texte libre)"
   }
  ],
  "family_history": [
   {
    "relationship": {
     "code": "PCOUSN",
     "system": "2.16.840.1.113883.5.111",
     "display": "Cousin"
    },
    "first_case_id": {
     "root": "1.2.3.4.5.6.7.8.9.10",
     "extension": "1234567890112345678902"
    },
    "first_case_sex": "M",
    "diseases": [
     {
      "code": "513",
      "system": "1.2.250.1.213.2.49.1",
      "display": "Leucémie lymphoblastique aigüe"
     }
    ]
   }
  ],
  "consanguinity": false,
  "antenatal": {
   "art": true,
   "gestational_age": {
    "value": 37,
    "unit": "wk"
   },
   "birth_weight": {
    "value": 2850,
    "unit": "g"
   },
   "birth_length": {
    "value": 45,
    "unit": "cm"
   },
   "head_circumference": {
    "value": 19,
    "unit": "cm"
   }
  },
  "research": {
   "contact_consent": true,
   "sample_research": false,
   "sample_molecular": true,
   "biobank_text": "(texte libre)"
  }
 }
}`,
	exPregnant: `{
 "header": {
  "document_id": "1.2.250.1.213.1.1.1.30.2024.2.1",
  "set_id": "1.2.250.1.213.1.1.1.30.2024.2",
  "version_number": 1,
  "effective_time": "20240112154500+0100",
  "model_version": "2024.01",
  "custodian_id": "1750803454",
  "finess": "750803454",
  "patient": {
   "ins": "277076322082910",
   "ins_root": "1.2.250.1.213.1.4.10",
   "ipp": [
    {
     "root": "1.2.3.4.567.8.9.10",
     "extension": "1234567890121"
    }
   ],
   "birth_family": "NESSI",
   "birth_given": "Ruth",
   "given": "Ruth Isabelle",
   "sex": "F",
   "birth_time": "19770714",
   "birth_place": "75115",
   "residence_code": "75056",
   "used_family": "DECOURCY",
   "used_given": "Ruth"
  },
  "custodian_name": "GHU APHP NUP SITE ROBERT DEBRE",
  "author": {
   "id": {
    "root": "1.2.250.1.71.4.2.1",
    "extension": "801234567897"
   },
   "rpps": "01234567897",
   "profession": {
    "code": "G15_10",
    "system": "1.2.250.1.213.1.1.4.5",
    "display": "Médecin"
   },
   "name": "DR Charles BOILEAU"
  },
  "organisations": [
   {
    "role": "custodian",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "legal_authenticator",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "service_event_performer",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "participant_scoping",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "2801234567"
    },
    "name": "Centre de soins le Belvédère"
   }
  ],
  "service_event": {
   "code": "11429006",
   "system": "2.16.840.1.113883.6.96",
   "display": "consultation"
  },
  "consents": [
   {
    "kind": "opposition",
    "code": {
     "code": "GEN-315",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Le patient (ou son représentant légal) s'oppose à la réutilisation de ses données dans l’entrepôt de données de santé BNDMR."
    },
    "source": "header"
   },
   {
    "kind": "ern_registry",
    "code": {
     "code": "GEN-320",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Le patient a signé son consentement à la transmission des données au registre ERN EuRREB"
    },
    "source": "header"
   }
  ],
  "facility": {
   "code": "SA01",
   "system": "1.2.250.1.71.4.2.4",
   "display": "Etablissement public de santé"
  }
 },
 "body": {
  "file": {
   "id": {
    "root": "33341B85-96D9-4FFC-A165-37152FEA4FE1"
   },
   "created": "20240112",
   "updated": "20240112"
  },
  "care_episodes": [
   {
    "id": {
     "root": "6917FE7A-2F04-458E-8224-D273C6B643E7"
    },
    "type": {
     "code": "IMP",
     "system": "2.16.840.1.113883.5.4",
     "display": "Hospitalisation"
    },
    "inclusion_date": "20181213",
    "referent": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "referred_by": [
     {
      "code": "ORG-020",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Association de patients"
     }
    ],
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "outside_labelling": true
   }
  ],
  "activities": [
   {
    "id": {
     "root": "C38D726B-6DE0-43A0-B309-96FF1D524888"
    },
    "context": {
     "code": "ORG-029",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Avis sur dossier en consultation"
    },
    "date": "20181213",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_finess": "750803454",
    "consultation_commune": "75056",
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ]
   },
   {
    "id": {
     "root": "C38D726B-6DE0-43A0-B309-96FF1D524834"
    },
    "context": {
     "code": "GEN-092.05.04",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Autre contexte"
    },
    "date": "20240112",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_finess": "750803454",
    "consultation_commune": "75056",
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ],
    "fetus": {
     "id": {
      "root": "1.2.3.4.567.8.9.11",
      "extension": "8ec5518caaab70961082"
     },
     "relationship": "CHILD",
     "birth_family": "NESSI",
     "used_family": "DECOURCY",
     "birth_given": "Ruth",
     "used_given": "Léa",
     "sex": "F",
     "multiple_birth": true,
     "birth_order": 1
    }
   }
  ],
  "diagnoses": [
   {
    "id": {
     "root": "5F7B8B9A-83D6-4B26-BB30-1D7B95F9FF71"
    },
    "date_unknown": true,
    "disease": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "status": {
     "code": "385651009",
     "system": "2.16.840.1.113883.6.96",
     "display": "en cours d'exécution"
    },
    "clinical_features": [
     {
      "code": "98006",
      "system": "1.2.250.1.213.2.49.2",
      "display": "Maladie neurologique rare"
     }
    ],
    "sporadic_familial": {
     "code": "75741005",
     "system": "2.16.840.1.113883.6.96",
     "display": "sporadique"
    },
    "onset_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "onset_age": {
     "value": 5,
     "unit": "mo"
    },
    "appraisal_on_entry": {
     "code": "2667000",
     "system": "2.16.840.1.113883.6.96",
     "display": "absent"
    },
    "clinical_diagnosis_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "clinical_diagnosis_age": {
     "value": 12,
     "unit": "mo"
    },
    "genetic_diagnosis_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "genetic_diagnosis_age": {
     "value": 12,
     "unit": "mo"
    },
    "techniques": [
     {
      "code": "GEN-092.04.17",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Autre technique diagnostic"
     }
    ],
    "genes": [
     {
      "code": "HGNC:39983",
      "system": "2.16.840.1.113883.4.642.2.468",
      "display": "ABCA9 antisense RNA 1"
     }
    ],
    "other_genetic": "(texte libre)",
    "comment": "(texte libre)"
   }
  ],
  "family_history": [
   {
    "relationship": {
     "code": "PCOUSN",
     "system": "2.16.840.1.113883.5.111",
     "display": "Cousin"
    },
    "first_case_id": {
     "root": "1.2.3.4.5.6.7.8.9.10",
     "extension": "1234567890112345678902"
    },
    "first_case_sex": "M",
    "diseases": [
     {
      "code": "513",
      "system": "1.2.250.1.213.2.49.1",
      "display": "Leucémie lymphoblastique aigüe"
     }
    ]
   }
  ],
  "consanguinity": true,
  "functional_status": [
   {
    "code": {
     "code": "b117.3",
     "system": "2.16.840.1.113883.6.254",
     "display": "fonctions intellectuelles / Déficience grave"
    },
    "date": "20240722"
   }
  ],
  "antenatal": {
   "art": true,
   "malformation": {
    "code": "50607009",
    "system": "2.16.840.1.113883.6.96",
    "display": "unique"
   },
   "gestational_age": {
    "value": 37,
    "unit": "wk"
   },
   "birth_weight": {
    "value": 2500,
    "unit": "g"
   },
   "birth_length": {
    "value": 40,
    "unit": "cm"
   },
   "head_circumference": {
    "value": 17,
    "unit": "cm"
   }
  },
  "pregnancies": [
   {
    "start": "20230901",
    "ongoing": true,
    "fetus_count": 2,
    "art": false,
    "births": [
     {
      "sequence": 1,
      "subject": {
       "id": {
        "root": "1.2.3.4.567.8.9.11",
        "extension": "8ec5518caaab70961082"
       },
       "relationship": "CHILD",
       "birth_family": "NESSI",
       "used_family": "DECOURCY",
       "birth_given": "Ruth",
       "used_given": "Léa",
       "sex": "F",
       "multiple_birth": true,
       "birth_order": 1
      }
     },
     {
      "sequence": 1,
      "subject": {
       "id": {
        "root": "1.2.3.4.567.8.9.11",
        "extension": "8ec5518caaab70961083"
       },
       "relationship": "CHILD",
       "birth_family": "NESSI",
       "used_family": "DECOURCY",
       "birth_given": "Ruth",
       "used_given": "Pierre",
       "sex": "M",
       "multiple_birth": true,
       "birth_order": 2
      }
     }
    ]
   }
  ],
  "research": {
   "contact_consent": true,
   "sample_research": false,
   "sample_molecular": true,
   "biobank_text": "(texte libre)"
  }
 }
}`,
	exPost: `{
 "header": {
  "document_id": "1.2.250.1.213.1.1.1.30.2024.3.1",
  "set_id": "1.2.250.1.213.1.1.1.30.2024.3",
  "version_number": 2,
  "effective_time": "20240228160000+0100",
  "model_version": "2024.01",
  "custodian_id": "1750803454",
  "finess": "750803454",
  "patient": {
   "ins": "277076322082910",
   "ins_root": "1.2.250.1.213.1.4.10",
   "ipp": [
    {
     "root": "1.2.3.4.567.8.9.10",
     "extension": "1234567890121"
    }
   ],
   "birth_family": "NESSI",
   "birth_given": "Ruth",
   "given": "Ruth Isabelle",
   "sex": "F",
   "birth_time": "19770714",
   "birth_place": "75115",
   "residence_code": "75056",
   "used_family": "DECOURCY",
   "used_given": "Ruth",
   "deceased": true,
   "deceased_time": "20240228"
  },
  "custodian_name": "GHU APHP NUP SITE ROBERT DEBRE",
  "author": {
   "id": {
    "root": "1.2.250.1.71.4.2.1",
    "extension": "801234567897"
   },
   "rpps": "01234567897",
   "profession": {
    "code": "G15_10",
    "system": "1.2.250.1.213.1.1.4.5",
    "display": "Médecin"
   },
   "name": "DR Charles BOILEAU"
  },
  "organisations": [
   {
    "role": "custodian",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "legal_authenticator",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "service_event_performer",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "1750803454"
    },
    "finess": "750803454",
    "name": "GHU APHP NUP SITE ROBERT DEBRE"
   },
   {
    "role": "participant_scoping",
    "id": {
     "root": "1.2.250.1.71.4.2.2",
     "extension": "2801234567"
    },
    "name": "Centre de soins le Belvédère"
   }
  ],
  "service_event": {
   "code": "11429006",
   "system": "2.16.840.1.113883.6.96",
   "display": "consultation"
  },
  "consents": [
   {
    "kind": "opposition",
    "code": {
     "code": "GEN-315",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Le patient (ou son représentant légal) s'oppose à la réutilisation de ses données dans l’entrepôt de données de santé BNDMR."
    },
    "source": "header"
   },
   {
    "kind": "ern_registry",
    "code": {
     "code": "GEN-320",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Le patient a signé son consentement à la transmission des données au registre ERN EuRREB"
    },
    "source": "header"
   }
  ],
  "facility": {
   "code": "SA01",
   "system": "1.2.250.1.71.4.2.4",
   "display": "Etablissement public de santé"
  }
 },
 "body": {
  "file": {
   "id": {
    "root": "33341B85-96D9-4FFC-A165-37152FEA4FE1"
   },
   "created": "20240112",
   "updated": "20240228160000",
   "lost_to_follow_up": true
  },
  "care_episodes": [
   {
    "id": {
     "root": "6917FE7A-2F04-458E-8224-D273C6B643E7"
    },
    "type": {
     "code": "IMP",
     "system": "2.16.840.1.113883.5.4",
     "display": "Hospitalisation"
    },
    "inclusion_date": "20181213",
    "referent": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "referred_by": [
     {
      "code": "ORG-020",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Association de patients"
     }
    ],
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "outside_labelling": true
   }
  ],
  "activities": [
   {
    "id": {
     "root": "C38D726B-6DE0-43A0-B309-96FF1D524888"
    },
    "context": {
     "code": "ORG-029",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Avis sur dossier en consultation"
    },
    "date": "20181213",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_finess": "750803454",
    "consultation_commune": "75056",
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ]
   },
   {
    "id": {
     "root": "C38D726B-6DE0-43A0-B309-96FF1D524834"
    },
    "context": {
     "code": "GEN-092.05.04",
     "system": "1.2.250.1.213.1.1.4.322",
     "display": "Autre contexte"
    },
    "date": "20240112",
    "performer": {
     "root": "1.2.250.1.71.4.2.1",
     "extension": "801234567897"
    },
    "performer_profession": {
     "code": "G15_10",
     "system": "1.2.250.1.213.1.1.4.5",
     "display": "Médecin"
    },
    "declaring_site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "consultation_finess": "750803454",
    "consultation_commune": "75056",
    "objectives": [
     {
      "code": "ORG-047",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Suivi"
     }
    ],
    "fetus": {
     "id": {
      "root": "1.2.3.4.567.8.9.11",
      "extension": "8ec5518caaab70961082"
     },
     "relationship": "CHILD",
     "birth_family": "NESSI",
     "used_family": "DECOURCY",
     "birth_given": "Ruth",
     "used_given": "Léa",
     "sex": "F",
     "multiple_birth": true,
     "birth_order": 1
    }
   }
  ],
  "diagnoses": [
   {
    "id": {
     "root": "5F7B8B9A-83D6-4B26-BB30-1D7B95F9FF71"
    },
    "date_unknown": true,
    "disease": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "site": {
     "code": "S001",
     "name": "HU ROBERT DEBRE APHP - 75019 PARIS - Anomalies Du Développement Et Syndromes Malformatif d'Ile-De-France - [COO] - Alain VERLOES"
    },
    "status": {
     "code": "385651009",
     "system": "2.16.840.1.113883.6.96",
     "display": "en cours d'exécution"
    },
    "clinical_features": [
     {
      "code": "98006",
      "system": "1.2.250.1.213.2.49.2",
      "display": "Maladie neurologique rare"
     }
    ],
    "sporadic_familial": {
     "code": "75741005",
     "system": "2.16.840.1.113883.6.96",
     "display": "sporadique"
    },
    "onset_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "onset_age": {
     "value": 5,
     "unit": "mo"
    },
    "appraisal_on_entry": {
     "code": "2667000",
     "system": "2.16.840.1.113883.6.96",
     "display": "absent"
    },
    "clinical_diagnosis_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "clinical_diagnosis_age": {
     "value": 12,
     "unit": "mo"
    },
    "genetic_diagnosis_age_class": {
     "code": "767023003",
     "system": "2.16.840.1.113883.6.96",
     "display": "période de la vie entre la naissance et la mort"
    },
    "genetic_diagnosis_age": {
     "value": 12,
     "unit": "mo"
    },
    "techniques": [
     {
      "code": "GEN-092.04.17",
      "system": "1.2.250.1.213.1.1.4.322",
      "display": "Autre technique diagnostic"
     }
    ],
    "genes": [
     {
      "code": "HGNC:39983",
      "system": "2.16.840.1.113883.4.642.2.468",
      "display": "ABCA9 antisense RNA 1"
     }
    ],
    "other_genetic": "(texte libre)",
    "comment": "(texte libre)"
   }
  ],
  "family_history": [
   {
    "relationship": {
     "code": "PCOUSN",
     "system": "2.16.840.1.113883.5.111",
     "display": "Cousin"
    },
    "first_case_id": {
     "root": "1.2.3.4.5.6.7.8.9.10",
     "extension": "1234567890112345678902"
    },
    "first_case_sex": "M",
    "diseases": [
     {
      "code": "513",
      "system": "1.2.250.1.213.2.49.1",
      "display": "Leucémie lymphoblastique aigüe"
     }
    ]
   }
  ],
  "active_problems": [
   {
    "code": {
     "code": "55607006",
     "system": "2.16.840.1.113883.6.96",
     "display": "problème"
    },
    "value": {
     "code": "513",
     "system": "1.2.250.1.213.2.49.1",
     "display": "Leucémie lymphoblastique aigüe"
    },
    "date": "20240228160000",
    "health_status": {
     "code": "419620001",
     "system": "2.16.840.1.113883.6.96",
     "display": "mort"
    }
   }
  ],
  "death_due_to_rd": {
   "disease": {
    "code": "513",
    "system": "1.2.250.1.213.2.49.1",
    "display": "Leucémie lymphoblastique aigüe"
   },
   "date": "20240228160000"
  },
  "consanguinity": true,
  "functional_status": [
   {
    "code": {
     "code": "bl17.3",
     "system": "2.16.840.1.113883.6.254",
     "display": "fonctions intellectuelles / Déficience grave"
    },
    "date": "20240722"
   }
  ],
  "antenatal": {
   "art": true,
   "gestational_age": {
    "value": 37,
    "unit": "wk"
   },
   "birth_weight": {
    "value": 2500,
    "unit": "g"
   },
   "birth_length": {
    "value": 40,
    "unit": "cm"
   },
   "head_circumference": {
    "value": 17,
    "unit": "cm"
   }
  },
  "pregnancies": [
   {
    "start": "20230901",
    "end": "20240228",
    "fetus_count": 2,
    "art": false,
    "births": [
     {
      "sequence": 1,
      "subject": {
       "id": {
        "root": "1.2.3.4.567.8.9.11",
        "extension": "8ec5518caaab70961082"
       },
       "newborn_id": {
        "root": "1.2.3.4.567.8.9.10",
        "extension": "9ec5518caaab70962222"
       },
       "relationship": "CHILD",
       "birth_family": "DECOURCY",
       "used_family": "DECOURCY",
       "birth_given": "Léa",
       "given": "Léa Marie",
       "sex": "F",
       "birth_time": "20240228",
       "multiple_birth": true,
       "birth_order": 1
      },
      "outcome": {
       "code": "236973005",
       "system": "2.16.840.1.113883.6.96",
       "display": "Accouchement"
      }
     },
     {
      "sequence": 2,
      "subject": {
       "id": {
        "root": "1.2.3.4.567.8.9.11",
        "extension": "8ec5518caaab70961083"
       },
       "relationship": "CHILD",
       "birth_family": "NESSI",
       "used_family": "DECOURCY",
       "birth_given": "Ruth",
       "used_given": "Pierre",
       "sex": "M",
       "multiple_birth": true,
       "birth_order": 2
      },
      "outcome": {
       "code": "O04",
       "system": "2.16.840.1.113883.6.3",
       "display": "Avortement médical"
      },
      "gestational_age": {
       "value": 27,
       "unit": "wk"
      },
      "fetal_autopsy": true
     }
    ]
   }
  ],
  "research": {
   "contact_consent": true,
   "sample_research": false,
   "sample_molecular": true,
   "biobank_text": "(texte libre)"
  }
 }
}`,
}
