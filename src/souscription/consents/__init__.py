"""The consent register (GDPR art. 7 and 9(2)(a)): what a person agreed to, for which purpose, on which text."""
