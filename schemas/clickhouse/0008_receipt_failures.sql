-- Les assertions en échec de chaque document rejeté, pour que le rapport de
-- réception les nomme comme l'accusé (MDN) : règle, source, emplacement.
-- Tableaux parallèles, dans l'ordre du validateur, bornés à
-- store.MaxFailuresStored par document (failure_count garde le nombre
-- entier). Pas de IF NOT EXISTS : ClickHouse 18.16 ne le connaît pas dans
-- ADD COLUMN ; la migration n'est enregistrée qu'une fois appliquée.
ALTER TABLE receipts
    ADD COLUMN failure_sources   Array(String) COMMENT 'source de chaque assertion en échec (XSD ou nom du schematron)',
    ADD COLUMN failure_rules     Array(String) COMMENT 'règle (pattern) de chaque assertion en échec',
    ADD COLUMN failure_locations Array(String) COMMENT 'emplacement (XPath) de chaque assertion en échec',
    ADD COLUMN failure_texts     Array(String) COMMENT 'texte de chaque assertion en échec';
