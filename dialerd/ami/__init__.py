"""The Asterisk Manager Interface: a sans-I/O codec and the translation to core events."""
