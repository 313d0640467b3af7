"""Documents for people: invoice and credit-note PDFs, kept in the documents bucket."""
