#!/usr/bin/env bash
# Re-capture the SRU answers in this folder from a running zebrasrv library.
# Usage: capture.sh http://127.0.0.1:PORT/DB
# The files here were captured from library lib2 of the Zebra lab (see README.md).
set -euo pipefail
base=${1:?usage: capture.sh http://127.0.0.1:PORT/DB}
cd "$(dirname "$0")"
get() { curl -sS -o "$1" "$base?$2"; }
sr="operation=searchRetrieve&recordSchema=marcxml"
# SRU 2.0 has no operation parameter (a query makes it a searchRetrieve) and adds queryType
sr2="queryType=cql&recordSchema=marcxml"
get searchretrieve-1.1-xml.xml "version=1.1&$sr&query=dc.title%3Dcomputer&maximumRecords=2&recordPacking=xml"
get searchretrieve-1.2-xml.xml "version=1.2&$sr&query=dc.title%3Dcomputer&maximumRecords=2&recordPacking=xml"
get searchretrieve-1.2-string.xml "version=1.2&$sr&query=dc.title%3Dcomputer&maximumRecords=2&recordPacking=string"
get searchretrieve-2.0-xml.xml "version=2.0&$sr2&query=dc.title%3Dcomputer&maximumRecords=2&recordXMLEscaping=xml"
get searchretrieve-2.0-string.xml "version=2.0&$sr2&query=dc.title%3Dcomputer&maximumRecords=2&recordXMLEscaping=string"
# every page of one result set, two records a page (the connector's paging test)
for start in 1 3 5; do
    get "page-1.2-start$start.xml" "version=1.2&$sr&query=dc.title%3Dcomputer&startRecord=$start&maximumRecords=2"
done
# dc.creator=толстой: UTF-8 inside an escaped (string) record
get searchretrieve-2.0-string-cyrillic.xml \
    "version=2.0&$sr2&query=dc.creator%3D%D1%82%D0%BE%D0%BB%D1%81%D1%82%D0%BE%D0%B9&maximumRecords=1&recordXMLEscaping=string"
get searchretrieve-1.2-zero.xml "version=1.2&$sr&query=dc.title%3Dnosuchwordxyz&maximumRecords=2"
get diagnostic-1.2-16.xml "version=1.2&$sr&query=dc.nosuch%3Dx&maximumRecords=2"
get diagnostic-2.0-10.xml "version=2.0&$sr2&query=dc.title%3D%28&maximumRecords=2"
get diagnostic-1.2-66.xml "version=1.2&operation=searchRetrieve&query=dc.title%3Dcomputer&recordSchema=nosuch&maximumRecords=1"
get diagnostic-1.2-61.xml "version=1.2&$sr&query=dc.title%3Dcomputer&startRecord=50&maximumRecords=2"
get explain-1.2.xml "version=1.2&operation=explain"
get explain-2.0.xml ""
curl -sS -o http-404.html "${base%/*}/nosuchdb?version=1.2&operation=searchRetrieve&query=x"
# scan (browse dc.title from "computer"), SRU 1.2 and 2.0, and an unsupported index
get scan-1.2.xml "version=1.2&operation=scan&scanClause=dc.title%3Dcomputer&maximumTerms=3&responsePosition=1"
get scan-2.0.xml "version=2.0&operation=scan&scanClause=dc.title%3Dcomputer&maximumTerms=3&responsePosition=2"
get scan-1.2-diagnostic-16.xml "version=1.2&operation=scan&scanClause=dc.nosuch%3Dx&maximumTerms=3"
