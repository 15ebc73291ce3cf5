-- Documents reçus et acceptés : une ligne par version (set_id, version_number).
-- Aucune identité n'atteint cette table : le patient n'y figure que par des
-- pseudonymes à clé, la naissance en année-mois, la résidence en département.
-- ReplacingMergeTree sur (finess, set_id, version_number) : une version chargée
-- deux fois (redélivrance, renvoi du même document) se fond en une ligne à la
-- fusion ; les requêtes exactes avant fusion utilisent uniqExact ou argMax,
-- jamais FINAL sur le chemin chaud.
CREATE TABLE IF NOT EXISTS documents
(
    finess                    String   COMMENT 'établissement émetteur (FINESS du custodian)'
  , set_id                    String   COMMENT 'identifiant du dossier SDM-MR (setId), commun à toutes ses versions'
  , version_number            UInt32   COMMENT 'numéro de version du document (versionNumber)'
  , document_key              String   COMMENT 'hachage à clé de l''identifiant du document'
  , model_version             String   COMMENT 'version du modèle SDM-MR (2017, 2021.01, 2022.01, 2024.01)'
  , effective_time            String   COMMENT 'date du document, HL7 TS tel qu''envoyé'
  , effective_date            Date     COMMENT 'jour de effectiveTime, heure de Paris (le mois de l''indicateur MR.2)'
  , mail_id                   String   COMMENT 'courriel d''origine (hachage boîte/UIDVALIDITY/UID)'
  , doc_index                 UInt16   COMMENT 'rang du document dans le courriel'
  , received_at               DateTime COMMENT 'réception du courriel par le hub (UTC)'
  , key_id                    String   COMMENT 'version de la clé de pseudonymisation'
  , patient_key               String   COMMENT 'patient : pseudonyme des traits d''identité, à défaut celui de l''INS ('''' si opposition)'
  , patient_ins_pseudonym     String   COMMENT 'pseudonyme patient issu de l''INS ('''' sans INS)'
  , patient_traits_pseudonym  String   COMMENT 'pseudonyme patient issu des traits d''identité'
  , sex                       String   COMMENT 'sexe administratif (F, M, UN)'
  , birth_year_month          String   COMMENT 'année-mois de naissance (AAAA-MM)'
  , residence_departement     String   COMMENT 'département de résidence'
  , opposition                UInt8    COMMENT '1 : le patient s''oppose à la réutilisation (GEN-315), aucun contenu clinique chargé'
  , orpha_codes               Array(String) COMMENT 'codes ORPHA des diagnostics du document (copie de diagnoses, pour les prévalences)'
  , consents                  Array(String) COMMENT 'codes de consentement du document (GEN-317, GEN-320…)'
  , file_key                  String   COMMENT 'hachage à clé de l''identifiant du dossier maladie rare'
  , file_created_ym           String COMMENT 'date de création du dossier maladie rare (année-mois, AAAA-MM)'
  , file_updated_ym           String COMMENT 'date de mise à jour du dossier maladie rare (année-mois, AAAA-MM)'
  , lost_to_follow_up         Nullable(UInt8) COMMENT '1 : patient perdu de vue'
  , consanguinity             Nullable(UInt8) COMMENT '1 : consanguinité'
  , death_rd_code             String   COMMENT 'décès dû à une maladie rare : code de la maladie'
  , death_rd_year_month       String   COMMENT 'décès dû à une maladie rare : année-mois'
  , antenatal_art             Nullable(UInt8)   COMMENT 'naissance : assistance médicale à la procréation'
  , antenatal_malformation    String            COMMENT 'naissance : code de malformation'
  , gestational_age_weeks     Nullable(Float64) COMMENT 'naissance : terme en semaines d''aménorrhée'
  , birth_weight_g            Nullable(Float64) COMMENT 'naissance : poids en grammes'
  , birth_length_cm           Nullable(Float64) COMMENT 'naissance : taille en cm'
  , head_circumference_cm     Nullable(Float64) COMMENT 'naissance : périmètre crânien en cm'
  , loaded_at                 DateTime DEFAULT now() COMMENT 'chargement dans ClickHouse'
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(effective_date)
ORDER BY (finess, set_id, version_number);
