"""Sender accounts (WhatsApp numbers): the account model and its sending caps and warm-up."""
