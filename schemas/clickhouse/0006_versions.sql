-- Versions vues : une ligne étroite par version (finess, set_id,
-- version_number) et par source, écrite par le loader avec chaque lot
-- (documents chargés : acceptés ; accusés de réception : acceptés ou rejetés).
-- MR.2 se calcule ici sans relire les tables larges. (Pas de vue matérialisée :
-- la forme cluster des migrations n'en a pas. Pas de reprise des lignes
-- antérieures non plus : rien n'était en production avant cette migration.)
-- Une version reçue deux fois se fond (ReplacingMergeTree) ; les requêtes
-- prennent max(accepted) par version : acceptée si elle l'a été une fois.
CREATE TABLE IF NOT EXISTS versions
(
    finess          String COMMENT 'établissement (FINESS)'
  , set_id          String COMMENT 'dossier SDM-MR (setId)'
  , set_key         UInt64 DEFAULT cityHash64(finess, set_id) COMMENT 'clé entière du dossier (hachage de finess, set_id), pour des regroupements rapides'
  , version_number  UInt32 COMMENT 'version'
  , source          String COMMENT 'document (chargé) ou receipt (accusé de réception)'
  , effective_date  Date   COMMENT 'jour du document, heure de Paris'
  , accepted        UInt8  COMMENT '1 : acceptée par le hub'
  , created         Date   COMMENT 'mois de création du dossier (1er du mois ; 0000-00-00 : inconnu)'
)
ENGINE = ReplacingMergeTree
ORDER BY (finess, set_id, version_number, source);
