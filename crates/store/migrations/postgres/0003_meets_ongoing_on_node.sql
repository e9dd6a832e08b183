-- The meets a node carries that have not ended (its media router compares them with its
-- connections every few seconds, in one query).
CREATE INDEX meets_ongoing_on_node ON meets(node_id) WHERE phase <> 'ended';
