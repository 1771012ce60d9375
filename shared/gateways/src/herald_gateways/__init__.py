"""The WhatsApp gateway adapters: WAHA and Evolution API over HTTP.

``interface`` is the port every adapter implements (send a text, read a session's health, get a
login QR, say what the gateway is, create a session, set its webhook, check numbers) with its
error type; ``waha`` and ``evolution`` are the adapters, ``http_client`` the
pooled HTTP plumbing they share, ``registry`` chooses one by name. ``failures`` classifies a
gateway's answer as retryable or permanent (the attempt plan acts on that), and
``session_states`` maps each gateway's session states onto Herald's one vocabulary;
``message_ids`` reduces every message id shape to the bare id Herald stores and matches;
``support`` says which gateways, versions, engines and tiers Herald supports. Used by the
sender engine and by the campaign service's QR pairing; imports nothing else of Herald.
"""
