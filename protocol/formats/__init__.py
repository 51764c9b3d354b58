"""Other apps' files, in and out: each module reads (and some write) one format, with no I/O.

Every reader takes the file's bytes and a password (or None) and returns a
`ParsedFile`: the accounts it could read and, per entry, what it could not and
why. A broken entry never stops the others; a file that cannot be read at all,
or a wrong password, raises one `InputError` and nothing is returned.
"""
