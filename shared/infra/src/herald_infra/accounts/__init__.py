"""Sender accounts in MongoDB: the repository (accounts, cap usage) and each account's pace slot."""
