"""Z39.50 (ANSI/NISO Z39.50-2003) as sans-IO code: APDU types, client connection state, OIDs.

apdu.py        one frozen dataclass per APDU, ``encode_apdu`` / ``decode_apdu``
charneg.py     character-set negotiation (charset-3) proposals and responses
connection.py  ``ClientConnection``: send / receive_data / next_event, a transition table
oids.py        record syntax, attribute set and diagnostic set OIDs as data
opac.py        OPAC records: bibliographic record + holdings/circulation, to core.Holding
rpn.py         the type-1 (RPN) query tree (proximity, string attributes), PQF in and out
"""
