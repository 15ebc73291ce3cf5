-- Documents received and accepted: one row per (set, version) and per receipt.
-- Identities never reach this table: the patient appears only as keyed
-- pseudonyms, the birth date as year-month, the residence as département.
-- ReplacingMergeTree keyed by (finess, set_id, version_number): a document
-- version loaded twice (redelivery) collapses into one row; queries that must
-- be exact before merges use uniqExact or argMax, never FINAL on the hot path.
CREATE TABLE IF NOT EXISTS documents
(
    finess                    String   -- établissement (FINESS du custodian)
  , set_id                    String   -- identifiant du dossier (setId), toutes versions
  , version_number            UInt32   -- numéro de version du document
  , document_key              String   -- hachage à clé de l'identifiant du document
  , model_version             String   -- version du modèle SDM-MR (2017, 2021.01, 2022.01, 2024.01)
  , effective_time            String   -- date du document, HL7 TS tel qu'envoyé
  , effective_date            Date     -- jour de effectiveTime, heure de Paris
  , mail_id                   String   -- courriel d'origine (hachage boîte/UIDVALIDITY/UID)
  , doc_index                 UInt16   -- rang du document dans le courriel
  , received_at               DateTime -- réception par le hub
  , key_id                    String   -- version de la clé de pseudonymisation
  , patient_ins_pseudonym     String   -- pseudonyme patient issu de l'INS ('' sans INS)
  , patient_traits_pseudonym  String   -- pseudonyme patient issu des traits d'identité
  , sex                       String   -- sexe administratif (F, M, UN)
  , birth_year_month          String   -- année-mois de naissance (AAAA-MM)
  , residence_departement     String   -- département de résidence
  , opposition                UInt8    -- 1 : le patient s'oppose à la réutilisation (GEN-315), aucun contenu clinique chargé
  , loaded_at                 DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(effective_date)
ORDER BY (finess, set_id, version_number);
