-- Accusés de réception : chaque courriel et chaque document reçus, acceptés ou
-- rejetés, avec la raison. Une ligne par document (doc_index = rang dans le
-- courriel) ; un courriel rejeté en entier sans document lisible a une ligne
-- avec doc_index 0 et doc_name ''. Alimentée par mail.outcome (consommateur
-- durable loader-receipts). Clé (mail_id, doc_index) : une redélivrance se fond.
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
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(effective_date)
ORDER BY (mail_id, doc_index);
