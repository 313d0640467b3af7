"""AvtaleGiro files (service code 21): mandates from Nets, claims and deletions to Nets, around ``netsgiro``.

``netsgiro`` reads and writes the records; this package checks what it does not. :mod:`.records` reads
any file's lines and checks its trailers; :mod:`.mandates` parses mandate files (ISO-8859-1 text of
80-character records, assignment type 24, and trailer counts that agree with the records);
:mod:`.claims` holds claim and deletion files' content and checks it before a file is built (KID MOD10,
positive amounts, due dates inside the window, a reference of at most 25 characters, at most 42
specification lines of at most 80 characters and none blank, numbers of the right width);
:mod:`.claim_files` builds those files and reads them back (every record 80 characters, ISO-8859-1,
trailer counts and sums, and the file read back gives exactly the claims that went in). Anything wrong
raises :class:`~chalicelib.formats.avtalegiro.records.AvtaleGiroFileError` listing every problem found.

netsgiro's sharp edges, handled here: it pads a reference longer than 25 characters into a record longer
than 80; it writes a blank specification line without complaint; it truncates the payer name silently;
a cancellation assignment must not carry the agreement id (its record pattern has zeros there); its
``TransactionSpecification.to_text`` joins lines wrongly when a line has only its first column; it
cannot write a transmission without transactions; and ``get_minimum_due_date`` reads the hour of
whatever ``datetime`` it is given (see :mod:`chalicelib.avtalegiro.window`).
"""
