-- receipts triée par établissement d'abord : le rapport de réception d'un
-- établissement (quatre lectures de receipts) lisait la colonne finess de
-- tous les reçus, triés par courriel (docs/store.md, « Performance »).
-- Triée par (finess, mail_id, doc_index), il ne lit que les granules de
-- l'établissement. La clé de dédoublonnage reste celle d'un document de
-- courriel : le FINESS est celui du document, le même à chaque relivraison.
--
-- Même reconstruction que 0015 (ClickHouse ne change pas la clé de tri d'une
-- table) : renommée, recréée sous son nom, copiée ; interrompue, elle reprend
-- du début. L'ancienne table est supprimée par 0019.
RENAME TABLE receipts TO receipts_0017;

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
ORDER BY (finess, mail_id, doc_index);

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
FROM receipts_0017;
