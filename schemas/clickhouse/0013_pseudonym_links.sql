-- Rotation de la clé de pseudonymisation : pendant qu'elle dure, chaque
-- document arrive avec ses pseudonymes sous l'ancienne clé et sous la
-- nouvelle. Le chargeur écrit dans les tables ceux de l'ancienne (la clé que
-- l'entrepôt tient déjà : un patient ne se dédouble pas) et garde ici le lien
-- entre les deux. `bndmrctl rotation finish` réécrit ensuite, par des
-- mutations, les pseudonymes de l'ancienne clé qui ont un lien en ceux de la
-- nouvelle (docs/operations.md, « Key rotation »). Un lien ne se calcule
-- qu'à partir de l'identité, jamais d'un pseudonyme : la table ne rend
-- aucun pseudonyme réversible.
CREATE TABLE IF NOT EXISTS pseudonym_links
(
    old_key_id      String COMMENT 'clé que l''entrepôt tenait (key_id)'
  , new_key_id      String COMMENT 'clé primaire de la rotation (key_id)'
  , kind            String COMMENT 'patient (patient_key), ins, traits ou ipp'
  , old_pseudonym   String COMMENT 'pseudonyme sous l''ancienne clé'
  , new_pseudonym   String COMMENT 'le même, sous la nouvelle clé'
  , finess          String COMMENT 'établissement du document qui a porté le lien'
  , linked_at       DateTime DEFAULT now() COMMENT 'chargement du lien'
)
ENGINE = ReplacingMergeTree(linked_at)
ORDER BY (old_key_id, new_key_id, kind, old_pseudonym);
