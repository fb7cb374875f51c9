-- Corrections an operator carried to a destination outside the flow (no route carries
-- the fact there any more, or the destination took it by another channel): recorded
-- so that `passerelle subject rectifications` stops listing them. Who and when only.
CREATE TABLE rectification_acks (
    message_id  uuid        NOT NULL,                -- the corrected version's message
    destination text        NOT NULL,
    acked_by    text        NOT NULL,                -- the operator account
    acked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, destination)
);
