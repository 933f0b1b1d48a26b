"""Z39.50 (ANSI/NISO Z39.50-2003) as sans-IO code: APDU types, client connection state, OIDs.

apdu.py        one frozen dataclass per APDU, ``encode_apdu`` / ``decode_apdu``
connection.py  ``ClientConnection``: send / receive_data / next_event, a transition table
oids.py        record syntax, attribute set and diagnostic set OIDs as data
rpn.py         the type-1 (RPN) query tree, PQF in and out
"""
