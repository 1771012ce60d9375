"""``herald NOUN VERB``: a Typer app per noun, a command per verb. A command checks its flags,
then calls the API and shows the answer inside a session (session.py)."""
