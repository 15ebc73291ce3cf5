-- care_episodes, diagnoses et activities partitionnées par année du
-- document, comme documents (0015) : MR.1 compte les versions d'une année
-- par site maladie rare dans ces trois tables, et lisait tout l'historique
-- (cinq ans : 1,0 s sur un serveur, 1,5 s sur la grappe de test ; docs/store.md,
-- « Performance »). Partitionnées, la requête ne lit que l'année demandée.
--
-- Même reconstruction que 0015 : renommée, recréée sous son nom, copiée ;
-- interrompue, elle reprend du début (les doublons se fondent). Les
-- anciennes tables sont supprimées par 0021.

RENAME TABLE care_episodes TO care_episodes_0019;

CREATE TABLE IF NOT EXISTS care_episodes
(
    finess                     String COMMENT 'établissement émetteur (FINESS)'
  , set_id                     String COMMENT 'dossier SDM-MR (setId)'
  , version_number             UInt32 COMMENT 'version du document'
  , effective_date             Date COMMENT 'jour du document, heure de Paris'
  , patient_key                String COMMENT 'patient (pseudonyme)'
  , ordinal                    UInt16 COMMENT 'rang de la prise en charge dans le document'
  , episode_key                String COMMENT 'hachage à clé de l''identifiant de la prise en charge'
  , type_code                  String COMMENT 'type de prise en charge'
  , inclusion_ym               String COMMENT 'date d''inclusion (année-mois, AAAA-MM)'
  , referent_id                String COMMENT 'médecin référent (RPPS)'
  , referred_by                Array(String) COMMENT 'adressé par (codes)'
  , site_code                  String COMMENT 'site maladie rare (centre de référence ou de compétence)'
  , outside_labelling          Nullable(UInt8) COMMENT '1 : prise en charge hors labellisation'
  , loaded_at                  DateTime DEFAULT now()
  , version_key                UInt64 DEFAULT cityHash64(cityHash64(set_id), toUInt8(0), version_number) COMMENT 'clé de la version (dossier, version), comparée à superseded.key'
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYear(effective_date)
ORDER BY (finess, set_id, version_number, ordinal);

INSERT INTO care_episodes (finess, set_id, version_number, effective_date, patient_key, ordinal, episode_key, type_code, inclusion_ym, referent_id, referred_by, site_code, outside_labelling, loaded_at, version_key)
SELECT finess, set_id, version_number, effective_date, patient_key, ordinal, episode_key, type_code, inclusion_ym, referent_id, referred_by, site_code, outside_labelling, loaded_at, version_key
FROM care_episodes_0019;

RENAME TABLE diagnoses TO diagnoses_0019;

CREATE TABLE IF NOT EXISTS diagnoses
(
    finess                     String COMMENT 'établissement émetteur (FINESS)'
  , set_id                     String COMMENT 'dossier SDM-MR (setId)'
  , version_number             UInt32 COMMENT 'version du document'
  , effective_date             Date COMMENT 'jour du document, heure de Paris'
  , patient_key                String COMMENT 'patient (pseudonyme)'
  , ordinal                    UInt16 COMMENT 'rang du diagnostic dans le document'
  , diagnosis_key              String COMMENT 'hachage à clé de l''identifiant du diagnostic'
  , diagnosis_ym               String COMMENT 'date du diagnostic (année-mois, AAAA-MM)'
  , date_unknown               UInt8 COMMENT '1 : date de diagnostic inconnue'
  , disease_code               String COMMENT 'code de la maladie (ORPHA ou CIM-10)'
  , disease_system             String COMMENT 'ORPHA, CIM-10 ou l''OID envoyé'
  , disease_null_flavor        String COMMENT 'maladie non codée : nullFlavor (UNK…) ; non diagnostiqué'
  , site_code                  String COMMENT 'site maladie rare ayant posé le diagnostic'
  , status_code                String COMMENT 'statut du diagnostic (MED-072 : en cours, probable, confirmé, indéterminé)'
  , sporadic_familial_code     String COMMENT 'cas sporadique ou familial (MED-073)'
  , onset_age_class_code       String COMMENT 'classe d''âge aux premiers signes (PAT-013)'
  , onset_age_years            Nullable(Float64) COMMENT 'âge aux premiers signes, en années (PAT-014)'
  , appraisal_code             String COMMENT 'évaluation à l''entrée (MED-071)'
  , clinical_dx_age_class_code String COMMENT 'classe d''âge au diagnostic clinique'
  , clinical_dx_age_years      Nullable(Float64) COMMENT 'âge au diagnostic clinique, en années'
  , genetic_dx_age_class_code  String COMMENT 'classe d''âge au diagnostic génétique'
  , genetic_dx_age_years       Nullable(Float64) COMMENT 'âge au diagnostic génétique, en années'
  , clinical_features          Array(String) COMMENT 'signes cliniques (codes)'
  , techniques                 Array(String) COMMENT 'techniques diagnostiques'
  , genes                      Array(String) COMMENT 'gènes (HGNC)'
  , investigations             Array(String) COMMENT 'explorations'
  , apparently_healthy         Nullable(UInt8) COMMENT '1 : apparemment sain'
  , fetus_pseudonym            String COMMENT 'fœtus concerné (pseudonyme), '''' pour le patient'
  , loaded_at                  DateTime DEFAULT now()
  , version_key                UInt64 DEFAULT cityHash64(cityHash64(set_id), toUInt8(0), version_number) COMMENT 'clé de la version (dossier, version), comparée à superseded.key'
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYear(effective_date)
ORDER BY (finess, set_id, version_number, ordinal);

INSERT INTO diagnoses (finess, set_id, version_number, effective_date, patient_key, ordinal, diagnosis_key, diagnosis_ym, date_unknown, disease_code, disease_system, disease_null_flavor, site_code, status_code, sporadic_familial_code, onset_age_class_code, onset_age_years, appraisal_code, clinical_dx_age_class_code, clinical_dx_age_years, genetic_dx_age_class_code, genetic_dx_age_years, clinical_features, techniques, genes, investigations, apparently_healthy, fetus_pseudonym, loaded_at, version_key)
SELECT finess, set_id, version_number, effective_date, patient_key, ordinal, diagnosis_key, diagnosis_ym, date_unknown, disease_code, disease_system, disease_null_flavor, site_code, status_code, sporadic_familial_code, onset_age_class_code, onset_age_years, appraisal_code, clinical_dx_age_class_code, clinical_dx_age_years, genetic_dx_age_class_code, genetic_dx_age_years, clinical_features, techniques, genes, investigations, apparently_healthy, fetus_pseudonym, loaded_at, version_key
FROM diagnoses_0019;

RENAME TABLE activities TO activities_0019;

CREATE TABLE IF NOT EXISTS activities
(
    finess                     String COMMENT 'établissement émetteur (FINESS)'
  , set_id                     String COMMENT 'dossier SDM-MR (setId)'
  , version_number             UInt32 COMMENT 'version du document'
  , effective_date             Date COMMENT 'jour du document, heure de Paris'
  , patient_key                String COMMENT 'patient (pseudonyme)'
  , ordinal                    UInt16 COMMENT 'rang de l''activité dans le document'
  , activity_key               String COMMENT 'hachage à clé de l''identifiant de l''activité'
  , context_code               String COMMENT 'contexte de l''activité (consultation, RCP…)'
  , activity_ym                String COMMENT 'date de l''activité (année-mois, AAAA-MM)'
  , performer_id               String COMMENT 'professionnel (RPPS)'
  , performer_profession_code  String COMMENT 'profession du professionnel'
  , declaring_site_code        String COMMENT 'site maladie rare déclarant'
  , consultation_finess        String COMMENT 'FINESS du lieu de consultation'
  , consultation_departement   String COMMENT 'département du lieu de consultation'
  , country_code               String COMMENT 'pays (≤2022)'
  , objectives                 Array(String) COMMENT 'objectifs de l''activité'
  , fetus_pseudonym            String COMMENT 'fœtus concerné (pseudonyme)'
  , loaded_at                  DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYear(effective_date)
ORDER BY (finess, set_id, version_number, ordinal);

INSERT INTO activities (finess, set_id, version_number, effective_date, patient_key, ordinal, activity_key, context_code, activity_ym, performer_id, performer_profession_code, declaring_site_code, consultation_finess, consultation_departement, country_code, objectives, fetus_pseudonym, loaded_at)
SELECT finess, set_id, version_number, effective_date, patient_key, ordinal, activity_key, context_code, activity_ym, performer_id, performer_profession_code, declaring_site_code, consultation_finess, consultation_departement, country_code, objectives, fetus_pseudonym, loaded_at
FROM activities_0019;
