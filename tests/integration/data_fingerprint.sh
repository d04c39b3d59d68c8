#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `cordon data fingerprint` as a person uses it: a CSV column becomes an exact-data-match file
# that holds none of the values, the key must be private, and a malformed CSV stops the command
# with the line that is wrong.
CORDON=$1
SRC=$2
. "$SRC/tests/integration/lib.sh"
cd "$T"

head -c 32 /dev/urandom > key
chmod 600 key
cat > customers.csv <<'CSV'
id,name,account
1,John Smith,DE89 3704 0044 0532 0130 00
2,"ACME, Inc.",GB82 WEST 1234 5698 7654 32
3,"Jane ""JQ"" Public",
4,Zoë Müller,FR14 2004 1010 0505 0001 3M02 606
CSV

run "--help exits 0" 0 "$CORDON" data fingerprint --help
has "--help shows usage" "usage: cordon data fingerprint --key KEYFILE"
run "help lists it" 0 "$CORDON" help
has "help lists data fingerprint" "data fingerprint"
run "no key is a usage error" 2 "$CORDON" data fingerprint customers.csv -o x.edm
has "the missing key is named" "--key KEYFILE is required"

run "fingerprint by column name" 0 "$CORDON" data fingerprint --key key --header --column name \
    customers.csv -o names.edm
has "it says how many values" "4 values (4 distinct)"
[ "$(head -c 8 names.edm)" = "$(printf 'CDNEDM\r\n')" ] && ok "the file starts with the magic" ||
    bad "the file starts with the magic" "$(head -c 8 names.edm | od -c)"
[ "$(stat -c %s names.edm)" -eq $((48 + 4 * 16)) ] && ok "48-byte header and 16 bytes a value" ||
    bad "size" "$(stat -c %s names.edm)"
leak=0
for v in "John Smith" "john smith" "ACME" "acme inc" "Public" "public" "Müller" "müller"; do
    if grep -qaF "$v" names.edm; then leak=1; bad "no plaintext: $v is in the file"; fi
done
[ $leak -eq 0 ] && ok "the file holds none of the values, raw or normalized"

run "fingerprint column 3 to stdout" 0 sh -c "'$CORDON' data fingerprint --key key --header \
    --column 3 customers.csv > accounts.edm"
has "the empty cell is skipped" "3 values (3 distinct), 1 empty cells skipped"
if grep -qaF "3704" accounts.edm || grep -qaF "WEST" accounts.edm; then
    bad "no account number in the file"
else
    ok "no account number in the file"
fi
# the same values with the same key: the same file; another key: another file
"$CORDON" data fingerprint --key key --header --column name customers.csv -o again.edm 2>/dev/null
cmp -s names.edm again.edm && ok "deterministic for one key" || bad "deterministic for one key"
head -c 32 /dev/urandom > key2
chmod 600 key2
"$CORDON" data fingerprint --key key2 --header --column name customers.csv -o other.edm 2>/dev/null
cmp -s names.edm other.edm && bad "another key gives another file" || ok "another key gives another file"

# the key must be private and exactly 32 bytes
chmod 644 key
run "a readable key is refused" 2 "$CORDON" data fingerprint --key key customers.csv -o x.edm
has "with the fix" "chmod 600"
chmod 600 key
printf 'short' > shortkey
chmod 600 shortkey
run "a short key is refused" 2 "$CORDON" data fingerprint --key shortkey customers.csv -o x.edm
has "with its size" "has 5 bytes, expected exactly 32"

# malformed CSV: the line is named, nothing is written
printf 'a,b\nc,d\ne\n' > ragged.csv
run "a ragged row is refused" 1 "$CORDON" data fingerprint --key key ragged.csv -o r.edm
has "its line is named" "ragged.csv: line 3: 1 fields, the first row has 2"
[ ! -e r.edm ] && ok "nothing is written for a bad CSV" || bad "nothing is written for a bad CSV"
printf 'a,b\n"c,d\ne,f\n' > open.csv
run "an unclosed quote is refused" 1 "$CORDON" data fingerprint --key key open.csv -o r.edm
has "the quote's line is named" "open.csv: line 2: a quoted field is not closed"
printf 'a,b\nc,d"x\n' > quote.csv
run "a stray quote is refused" 1 "$CORDON" data fingerprint --key key quote.csv -o r.edm
has "with how to quote" 'line 2: a quote inside unquoted field 2'
printf 'a,"b"c\n' > after.csv
run "text after a closing quote is refused" 1 "$CORDON" data fingerprint --key key after.csv -o r.edm
has "it is named" "line 1: text after the closing quote of field 2"
run "an unknown column name" 1 "$CORDON" data fingerprint --key key --header --column email \
    customers.csv -o r.edm
has "it is named" 'no column named "email"'
run "a column name needs --header" 2 "$CORDON" data fingerprint --key key --column name \
    customers.csv -o r.edm
has "it says so" "give --header too"
printf ',\n,\n' > empty.csv
run "no value at all" 1 "$CORDON" data fingerprint --key key empty.csv -o r.edm
has "it says so" "no value to fingerprint"

# a policy that names the file checks (the file's path is kept as written)
cat > p.json <<JSON
{"cordon_policy": 1, "agent": "a",
 "api": {"data": {"custom": [{"class": "customer", "edm": "$T/names.edm", "action": "tokenize"}]}}}
JSON
run "a policy with an edm class checks" 0 "$CORDON" policy check p.json
finish
