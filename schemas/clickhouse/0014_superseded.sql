-- État courant sans relire l'historique : les versions remplacées.
-- Une version v d'un dossier remplace toutes ses versions plus basses, reçues
-- ou non, avant ou après elle. Le chargeur écrit donc, avec chaque version,
-- les clés de toutes les versions u < v du dossier ; une ligne de documents,
-- diagnoses, care_episodes ou patients est courante si sa clé (version_key)
-- n'y figure pas. C'est exact sans fusion (pas de FINAL, pas de max par
-- dossier relu à chaque requête), sans lecture avant écriture (deux
-- chargeurs en parallèle ne se contredisent pas) et idempotent (un lot écrit
-- deux fois réécrit les mêmes clés).
-- Pour qu'une version de numéro élevé n'écrive pas des milliards de lignes,
-- les versions u < v sont nommées à trois niveaux de blocs de 4096 :
--   niveau 0 : u elle-même, pour les u du bloc de v (u >> 12 = v >> 12) ;
--   niveau 1 : le bloc u >> 12, pour les blocs plus bas du même super-bloc ;
--   niveau 2 : le super-bloc u >> 24, pour les super-blocs plus bas.
-- Au plus 4095 + 4095 + 255 lignes par version ; en pratique (v < 4096) v − 1.
-- Les requêtes lisent le niveau 0 et développent les niveaux 1 et 2 en clés
-- des versions chargées des dossiers qu'ils nomment (store.CurrentVersions),
-- lues par la clé de tri de documents (finess, set_id) ; triée par niveau
-- d'abord, cette table ne lit rien des niveaux 1 et 2 quand aucun dossier
-- n'a de version au-delà de 4095.
CREATE TABLE IF NOT EXISTS superseded
(
    finess   String COMMENT 'établissement (FINESS) de la version qui remplace'
  , set_id   String COMMENT 'dossier SDM-MR (setId)'
  , level    UInt8  COMMENT '0 : une version ; 1 : un bloc de 4096 versions ; 2 : un bloc de 4096 blocs'
  , idx      UInt32 COMMENT 'numéro de la version, du bloc ou du super-bloc remplacé'
  , key      UInt64 DEFAULT cityHash64(cityHash64(set_id), level, idx) COMMENT 'clé lue par les requêtes : version_key des versions remplacées (niveau 0)'
)
ENGINE = ReplacingMergeTree
ORDER BY (level, finess, set_id, idx);

-- La clé de chaque ligne, calculée à l'écriture (les parties écrites avant
-- cette migration la calculent à la lecture jusqu'à leur prochaine fusion).
-- DEFAULT et non MATERIALIZED : une table Distributed de ClickHouse 18.16
-- enverrait la colonne MATERIALIZED aux shards, qui la refusent ; le
-- chargeur ne l'écrit pas (liste de colonnes explicite).
-- Pas de IF NOT EXISTS : ClickHouse 18.16 ne le connaît pas dans ADD COLUMN.
ALTER TABLE documents
    ADD COLUMN version_key UInt64 DEFAULT cityHash64(cityHash64(set_id), toUInt8(0), version_number) COMMENT 'clé de la version (dossier, version), comparée à superseded.key';
ALTER TABLE diagnoses
    ADD COLUMN version_key UInt64 DEFAULT cityHash64(cityHash64(set_id), toUInt8(0), version_number) COMMENT 'clé de la version (dossier, version), comparée à superseded.key';
ALTER TABLE care_episodes
    ADD COLUMN version_key UInt64 DEFAULT cityHash64(cityHash64(set_id), toUInt8(0), version_number) COMMENT 'clé de la version (dossier, version), comparée à superseded.key';
ALTER TABLE patients
    ADD COLUMN version_key UInt64 DEFAULT cityHash64(cityHash64(set_id), toUInt8(0), version_number) COMMENT 'clé de la version (dossier, version), comparée à superseded.key';

-- Reprise de ce qui est déjà chargé : les clés que la version la plus haute
-- de chaque dossier aurait écrites (mêmes règles que le chargeur,
-- store.supersededBy). Rejouée, elle réécrit les mêmes clés.
INSERT INTO superseded (finess, set_id, level, idx)
SELECT finess, set_id, l.1 AS level, l.2 AS idx
FROM (
    SELECT set_id, argMax(finess, version_number) AS finess, max(version_number) AS v,
           intDiv(max(version_number), 4096) AS w
    FROM documents GROUP BY set_id
) AS latest
ARRAY JOIN arrayConcat(
    arrayMap(i -> (toUInt8(0), toUInt32(v - v % 4096 + i)), range(v % 4096)),
    arrayMap(i -> (toUInt8(1), toUInt32(w - w % 4096 + i)), range(w % 4096)),
    arrayMap(i -> (toUInt8(2), toUInt32(i)), range(intDiv(v, 16777216)))) AS l
WHERE NOT (l.1 = 0 AND l.2 = 0);
