"""Screens of the interview app."""
