-- Contenu clinique pseudonymisé, une table par partie de sdmmr.record.
-- Chaque ligne porte la version du document dont elle vient (finess, set_id,
-- version_number, effective_date, patient_key) et son rang (ordinal) dans le
-- document : une redélivrance réécrit les mêmes clés et se fond à la fusion.
-- L'état courant d'un dossier est la version la plus haute de son set_id : voir
-- les vues *_current (0005). Les âges sont convertis en années (colonnes *_years) ;
-- les dates d'événements sont ramenées à l'année-mois (*_ym) : un jour exact peut
-- dater une personne (le dossier d'un nouveau-né est créé le jour de sa naissance).
CREATE TABLE IF NOT EXISTS patients
(
    finess                    String COMMENT 'établissement émetteur (FINESS)'
  , set_id                    String COMMENT 'dossier SDM-MR (setId)'
  , version_number            UInt32 COMMENT 'version du document'
  , effective_date            Date   COMMENT 'jour du document, heure de Paris'
  , patient_key               String COMMENT 'patient (pseudonyme des traits, à défaut de l''INS)'
  , patient_ins_pseudonym     String COMMENT 'pseudonyme issu de l''INS'
  , patient_traits_pseudonym  String COMMENT 'pseudonyme issu des traits d''identité'
  , sex                       String COMMENT 'sexe (F, M, UN)'
  , birth_year_month          String COMMENT 'année-mois de naissance'
  , residence_departement     String COMMENT 'département de résidence'
  , birthplace_departement    String COMMENT 'département de naissance'
  , deceased                  Nullable(UInt8) COMMENT '1 : patient décédé'
  , death_year_month          String COMMENT 'année-mois du décès'
  , multiple_birth            Nullable(UInt8) COMMENT '1 : naissance multiple'
  , ipp_keys                  Array(String) COMMENT 'hachages à clé des IPP, propres à l''établissement'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number);

CREATE TABLE IF NOT EXISTS diagnoses
(
    finess                    String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16 COMMENT 'rang du diagnostic dans le document'
  , diagnosis_key             String COMMENT 'hachage à clé de l''identifiant du diagnostic'
  , diagnosis_ym              String COMMENT 'date du diagnostic (année-mois, AAAA-MM)'
  , date_unknown              UInt8  COMMENT '1 : date de diagnostic inconnue'
  , disease_code              String COMMENT 'code de la maladie (ORPHA ou CIM-10)'
  , disease_system            String COMMENT 'ORPHA, CIM-10 ou l''OID envoyé'
  , disease_null_flavor       String COMMENT 'maladie non codée : nullFlavor (UNK…) ; non diagnostiqué'
  , site_code                 String COMMENT 'site maladie rare ayant posé le diagnostic'
  , status_code               String COMMENT 'statut du diagnostic (MED-072 : en cours, probable, confirmé, indéterminé)'
  , sporadic_familial_code    String COMMENT 'cas sporadique ou familial (MED-073)'
  , onset_age_class_code      String COMMENT 'classe d''âge aux premiers signes (PAT-013)'
  , onset_age_years           Nullable(Float64) COMMENT 'âge aux premiers signes, en années (PAT-014)'
  , appraisal_code            String COMMENT 'évaluation à l''entrée (MED-071)'
  , clinical_dx_age_class_code String COMMENT 'classe d''âge au diagnostic clinique'
  , clinical_dx_age_years     Nullable(Float64) COMMENT 'âge au diagnostic clinique, en années'
  , genetic_dx_age_class_code String COMMENT 'classe d''âge au diagnostic génétique'
  , genetic_dx_age_years      Nullable(Float64) COMMENT 'âge au diagnostic génétique, en années'
  , clinical_features         Array(String) COMMENT 'signes cliniques (codes)'
  , techniques                Array(String) COMMENT 'techniques diagnostiques'
  , genes                     Array(String) COMMENT 'gènes (HGNC)'
  , investigations            Array(String) COMMENT 'explorations'
  , apparently_healthy        Nullable(UInt8) COMMENT '1 : apparemment sain'
  , fetus_pseudonym           String COMMENT 'fœtus concerné (pseudonyme), '''' pour le patient'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);

CREATE TABLE IF NOT EXISTS activities
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16 COMMENT 'rang de l''activité dans le document'
  , activity_key              String COMMENT 'hachage à clé de l''identifiant de l''activité'
  , context_code              String COMMENT 'contexte de l''activité (consultation, RCP…)'
  , activity_ym               String COMMENT 'date de l''activité (année-mois, AAAA-MM)'
  , performer_id              String COMMENT 'professionnel (RPPS)'
  , performer_profession_code String COMMENT 'profession du professionnel'
  , declaring_site_code       String COMMENT 'site maladie rare déclarant'
  , consultation_finess       String COMMENT 'FINESS du lieu de consultation'
  , consultation_departement  String COMMENT 'département du lieu de consultation'
  , country_code              String COMMENT 'pays (≤2022)'
  , objectives                Array(String) COMMENT 'objectifs de l''activité'
  , fetus_pseudonym           String COMMENT 'fœtus concerné (pseudonyme)'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);

CREATE TABLE IF NOT EXISTS care_episodes
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16 COMMENT 'rang de la prise en charge dans le document'
  , episode_key               String COMMENT 'hachage à clé de l''identifiant de la prise en charge'
  , type_code                 String COMMENT 'type de prise en charge'
  , inclusion_ym              String COMMENT 'date d''inclusion (année-mois, AAAA-MM)'
  , referent_id               String COMMENT 'médecin référent (RPPS)'
  , referred_by               Array(String) COMMENT 'adressé par (codes)'
  , site_code                 String COMMENT 'site maladie rare (centre de référence ou de compétence)'
  , outside_labelling         Nullable(UInt8) COMMENT '1 : prise en charge hors labellisation'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);

CREATE TABLE IF NOT EXISTS family_history
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16
  , relationship_code         String COMMENT 'lien de parenté avec le premier cas'
  , first_case_key            String COMMENT 'premier cas de la famille (pseudonyme)'
  , first_case_sex            String COMMENT 'sexe du premier cas'
  , diseases                  Array(String) COMMENT 'maladies du premier cas (ORPHA)'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);

CREATE TABLE IF NOT EXISTS active_problems
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16
  , problem_code              String COMMENT 'type de problème'
  , value_code                String COMMENT 'maladie (code)'
  , value_system              String COMMENT 'système de codes de la maladie'
  , problem_ym                String COMMENT 'date (année-mois, AAAA-MM)'
  , health_status_code        String COMMENT 'état de santé'
  , certainty_code            String COMMENT 'certitude (2022)'
  , status_code               String COMMENT 'statut du problème (≤2021)'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);

CREATE TABLE IF NOT EXISTS functional_status
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16
  , icf_code                  String COMMENT 'score CIF (classification internationale du fonctionnement)'
  , status_ym                 String COMMENT 'date (année-mois, AAAA-MM)'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);

CREATE TABLE IF NOT EXISTS pregnancies
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16 COMMENT 'rang de la grossesse dans le document'
  , start_year_month          String COMMENT 'début (année-mois)'
  , end_year_month            String COMMENT 'fin (année-mois)'
  , ongoing                   UInt8  COMMENT '1 : grossesse en cours'
  , fetus_count               Nullable(Int32) COMMENT 'nombre de fœtus'
  , art                       Nullable(UInt8) COMMENT '1 : assistance médicale à la procréation'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);

CREATE TABLE IF NOT EXISTS births
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , pregnancy_ordinal         UInt16 COMMENT 'grossesse (rang dans le document)'
  , ordinal                   UInt16 COMMENT 'rang de la naissance dans la grossesse'
  , sequence                  Int32  COMMENT 'numéro d''ordre du fœtus'
  , subject_pseudonym         String COMMENT 'fœtus (pseudonyme)'
  , newborn_pseudonym         String COMMENT 'nouveau-né (pseudonyme de son INS)'
  , sex                       String COMMENT 'sexe'
  , outcome_code              String COMMENT 'issue de la grossesse'
  , gestational_age_weeks     Nullable(Float64) COMMENT 'terme, en semaines'
  , fetal_autopsy             Nullable(UInt8) COMMENT '1 : autopsie fœtale'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, pregnancy_ordinal, ordinal);

CREATE TABLE IF NOT EXISTS research
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , protocol_participant      Nullable(UInt8) COMMENT '1 : participe à un protocole de recherche'
  , contact_consent           Nullable(UInt8) COMMENT '1 : accepte d''être recontacté'
  , sample_research           Nullable(UInt8) COMMENT '1 : prélèvement pour la recherche'
  , sample_molecular          Nullable(UInt8) COMMENT '1 : prélèvement pour diagnostic moléculaire'
  , biobank_code              String COMMENT 'biobanque (code)'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number);

CREATE TABLE IF NOT EXISTS treatments
(
    finess String, set_id String, version_number UInt32, effective_date Date, patient_key String
  , ordinal                   UInt16
  , start_ym                  String COMMENT 'début (année-mois, AAAA-MM)'
  , end_ym                    String COMMENT 'fin (année-mois, AAAA-MM)'
  , product_code              String COMMENT 'produit (code)'
  , product_system            String COMMENT 'système de codes du produit'
  , translations              Array(String) COMMENT 'autres codes du produit'
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (finess, set_id, version_number, ordinal);
