-- Each record's wire JSON (the server's `CallRecordView`), written with the row whenever the
-- record is written or changed, so a page of the changes feed is one range read of
-- (seq, id, deleted_at, body) sent as it is. Rows written before this migration have none:
-- the server renders theirs from the columns when it reads them, and fills them in little by
-- little (retention sweeper); nothing else changes, nothing is lost.
ALTER TABLE call_records ADD COLUMN body TEXT;
CREATE INDEX call_records_no_body ON call_records(id) WHERE body IS NULL AND deleted_at IS NULL;
