-- Partitions par année du document, et non plus par mois, pour documents et
-- receipts. Un lot du chargeur écrit une partie par partition qu'il touche,
-- puis ClickHouse les fusionne : l'envoi de l'historique d'un établissement
-- (des années dans chaque lot) écrivait soixante parties par table et par lot
-- sur cinq ans, douze sur une année (docs/store.md, « Performance »).
-- Aucune requête ne lit ces tables par mois du document, sauf les rejets du
-- tableau de bord, qui lisent alors une année.
--
-- ClickHouse ne change pas la clé de partition d'une table : chaque table est
-- refaite. D'abord renommée (les écritures qui suivent vont dans la nouvelle
-- table, aucune ne tombe dans l'ancienne), puis recréée sous son nom, puis
-- l'ancienne est copiée dedans. Pendant la copie, les requêtes ne voient pas
-- encore tout l'historique (docs/operations.md, « Upgrade the hub »). Une
-- version déjà réécrite par le chargeur entre-temps se retrouve en double
-- jusqu'à la fusion, comme une redélivrance. Interrompue, la migration
-- reprend du début : le renommage déjà fait est sauté (sa cible existe,
-- store.renameDone), la table existe, la copie recopie (les doublons se
-- fondent). L'ancienne table est supprimée par la migration suivante, une
-- fois celle-ci enregistrée.
RENAME TABLE documents TO documents_0014;

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
  , version_key               UInt64   DEFAULT cityHash64(cityHash64(set_id), toUInt8(0), version_number) COMMENT 'clé de la version (dossier, version), comparée à superseded.key'
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYear(effective_date)
ORDER BY (finess, set_id, version_number);

INSERT INTO documents (
    finess, set_id, version_number, document_key, model_version, effective_time, effective_date,
    mail_id, doc_index, received_at, key_id, patient_key, patient_ins_pseudonym,
    patient_traits_pseudonym, sex, birth_year_month, residence_departement, opposition,
    orpha_codes, consents, file_key, file_created_ym, file_updated_ym, lost_to_follow_up,
    consanguinity, death_rd_code, death_rd_year_month, antenatal_art, antenatal_malformation,
    gestational_age_weeks, birth_weight_g, birth_length_cm, head_circumference_cm, loaded_at,
    version_key
)
SELECT
    finess, set_id, version_number, document_key, model_version, effective_time, effective_date,
    mail_id, doc_index, received_at, key_id, patient_key, patient_ins_pseudonym,
    patient_traits_pseudonym, sex, birth_year_month, residence_departement, opposition,
    orpha_codes, consents, file_key, file_created_ym, file_updated_ym, lost_to_follow_up,
    consanguinity, death_rd_code, death_rd_year_month, antenatal_art, antenatal_malformation,
    gestational_age_weeks, birth_weight_g, birth_length_cm, head_circumference_cm, loaded_at,
    version_key
FROM documents_0014;

RENAME TABLE receipts TO receipts_0014;

CREATE TABLE IF NOT EXISTS receipts
(
    mail_id                   String   COMMENT 'courriel (hachage boîte/UIDVALIDITY/UID)'
  , mailbox                   String   COMMENT 'boîte MSSanté de réception'
  , received_at               DateTime COMMENT 'réception du courriel (UTC)'
  , processed_at              DateTime COMMENT 'traitement par le hub (UTC)'
  , sender_domain             String   COMMENT 'domaine MSSanté de l''expéditeur'
  , mail_rejection_code       String   COMMENT 'courriel rejeté en entier : code (zip_bomb, no_cda…), sinon '''''
  , mail_rejection_reason     String   COMMENT 'courriel rejeté en entier : raison'
  , doc_index                 UInt16   COMMENT 'rang du document dans le courriel'
  , doc_name                  String   COMMENT 'nom du fichier dans l''archive XDM'
  , finess                    String   COMMENT 'établissement (FINESS du custodian), '''' si illisible'
  , set_id                    String   COMMENT 'dossier SDM-MR (setId)'
  , version_number            UInt32   COMMENT 'version du document'
  , effective_time            String   COMMENT 'date du document (HL7 TS)'
  , effective_date            Date     COMMENT 'jour du document, heure de Paris (à défaut : jour de réception)'
  , model_version             String   COMMENT 'version du modèle SDM-MR'
  , accepted                  UInt8    COMMENT '1 : document accepté'
  , rejection_code            String   COMMENT 'code de rejet du document (stable)'
  , cisis_code                UInt16   COMMENT 'code d''erreur CI-SIS de l''accusé (900-906)'
  , rejection_reason          String   COMMENT 'raison du rejet, en clair'
  , failure_count             UInt32   COMMENT 'nombre d''assertions en échec'
  , failure_patterns          Array(String) COMMENT 'règles en échec (source:pattern)'
  , loaded_at                 DateTime DEFAULT now()
  , failure_sources           Array(String) COMMENT 'source de chaque assertion en échec (XSD ou nom du schematron)'
  , failure_rules             Array(String) COMMENT 'règle (pattern) de chaque assertion en échec'
  , failure_locations         Array(String) COMMENT 'emplacement (XPath) de chaque assertion en échec'
  , failure_texts             Array(String) COMMENT 'texte de chaque assertion en échec'
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYear(effective_date)
ORDER BY (mail_id, doc_index);

INSERT INTO receipts (
    mail_id, mailbox, received_at, processed_at, sender_domain, mail_rejection_code,
    mail_rejection_reason, doc_index, doc_name, finess, set_id, version_number, effective_time,
    effective_date, model_version, accepted, rejection_code, cisis_code, rejection_reason,
    failure_count, failure_patterns, loaded_at, failure_sources, failure_rules,
    failure_locations, failure_texts
)
SELECT
    mail_id, mailbox, received_at, processed_at, sender_domain, mail_rejection_code,
    mail_rejection_reason, doc_index, doc_name, finess, set_id, version_number, effective_time,
    effective_date, model_version, accepted, rejection_code, cisis_code, rejection_reason,
    failure_count, failure_patterns, loaded_at, failure_sources, failure_rules,
    failure_locations, failure_texts
FROM receipts_0014;
