"""Files that arrive in the bucket (OCR giro, AvtaleGiro, Autogiro) and their arrival records."""
