/* YAZ's view of CQL queries, for the tests of protocols/cql.py and federator/query.py.
 *
 *   yaz_cql [-s] [PROPERTIES] < queries        one query per input line
 *
 * Prints one JSON object per input line:
 *   {"ok": false, "error": N}                  cql_parser_string rejected the query
 *   {"ok": true, "tree": NODE, "sort": [KEY...], "pqf": "..." | null,
 *    "pqf_error": [code, "addinfo"] | null}
 * NODE is {"t": "sc", "index", "index_uri", "relation", "relation_uri", "term",
 *          "modifiers": [MOD...], "extra_terms": ["..."]}
 *      or {"t": "bool", "op", "modifiers": [MOD...], "left": NODE, "right": NODE}
 * MOD is {"name", "comparison", "value"} and KEY is {"index", "modifiers": [MOD...]}; absent
 * strings are null. Lists are printed in YAZ's own order (it chains modifiers newest first).
 * PROPERTIES is a cql2rpn properties file (pqf.properties); the PQF comes from
 * cql_transform_r. -s turns on cql_parser_strict.
 *
 * The tree is walked here rather than printed with cql_to_xml, because YAZ 5.34 writes the
 * <leftOperand>/<rightOperand> tags of a triple to stdout whatever stream it is given.
 */
#include <stdio.h>
#include <string.h>
#include <yaz/cql.h>
#include <yaz/wrbuf.h>

static void str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void modifiers(const struct cql_node *m)
{
    int first = 1;
    putchar('[');
    for (; m; m = m->u.st.modifiers) {
        if (!first)
            putchar(',');
        first = 0;
        fputs("{\"name\":", stdout);
        str(m->u.st.index);
        fputs(",\"comparison\":", stdout);
        str(m->u.st.relation);
        fputs(",\"value\":", stdout);
        str(m->u.st.term);
        putchar('}');
    }
    putchar(']');
}

static void node(const struct cql_node *n)
{
    if (!n) {
        fputs("null", stdout);
    } else if (n->which == CQL_NODE_ST) {
        const struct cql_node *e;
        int first = 1;
        fputs("{\"t\":\"sc\",\"index\":", stdout);
        str(n->u.st.index);
        fputs(",\"index_uri\":", stdout);
        str(n->u.st.index_uri);
        fputs(",\"relation\":", stdout);
        str(n->u.st.relation);
        fputs(",\"relation_uri\":", stdout);
        str(n->u.st.relation_uri);
        fputs(",\"term\":", stdout);
        str(n->u.st.term);
        fputs(",\"modifiers\":", stdout);
        modifiers(n->u.st.modifiers);
        fputs(",\"extra_terms\":[", stdout);
        for (e = n->u.st.extra_terms; e; e = e->u.st.extra_terms) {
            if (!first)
                putchar(',');
            first = 0;
            str(e->u.st.term);
        }
        fputs("]}", stdout);
    } else if (n->which == CQL_NODE_BOOL) {
        fputs("{\"t\":\"bool\",\"op\":", stdout);
        str(n->u.boolean.value);
        fputs(",\"modifiers\":", stdout);
        modifiers(n->u.boolean.modifiers);
        fputs(",\"left\":", stdout);
        node(n->u.boolean.left);
        fputs(",\"right\":", stdout);
        node(n->u.boolean.right);
        putchar('}');
    } else {
        fputs("null", stdout);
    }
}

static void sort_keys(const struct cql_node *s)
{
    int first = 1;
    putchar('[');
    for (; s && s->which == CQL_NODE_SORT; s = s->u.sort.next) {
        if (!first)
            putchar(',');
        first = 0;
        fputs("{\"index\":", stdout);
        str(s->u.sort.index);
        fputs(",\"modifiers\":", stdout);
        modifiers(s->u.sort.modifiers);
        putchar('}');
    }
    putchar(']');
}

static void wr(const char *b, void *client_data)
{
    wrbuf_puts((WRBUF) client_data, b);
}

int main(int argc, char **argv)
{
    int strict = 0, argi = 1;
    cql_transform_t ct = 0;
    static char line[65536];

    if (argi < argc && !strcmp(argv[argi], "-s")) {
        strict = 1;
        argi++;
    }
    if (argi < argc) {
        ct = cql_transform_open_fname(argv[argi]);
        if (!ct) {
            fprintf(stderr, "cannot read %s\n", argv[argi]);
            return 2;
        }
    }
    while (fgets(line, sizeof line, stdin)) {
        CQL_parser cp = cql_parser_create();
        size_t len = strlen(line);
        int r;
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        cql_parser_strict(cp, strict);
        r = cql_parser_string(cp, line);
        if (r) {
            printf("{\"ok\":false,\"error\":%d}\n", r);
        } else {
            /* with "sortby" the root is the first sort key, holding the query */
            const struct cql_node *top = cql_parser_result(cp);
            const struct cql_node *sort = 0;
            if (top && top->which == CQL_NODE_SORT) {
                sort = top;
                top = top->u.sort.search;
            }
            fputs("{\"ok\":true,\"tree\":", stdout);
            node(top);
            fputs(",\"sort\":", stdout);
            sort_keys(sort);
            if (ct) {
                WRBUF pqf = wrbuf_alloc();
                WRBUF addinfo = wrbuf_alloc();
                int e = cql_transform_r(ct, cql_parser_result(cp), addinfo, wr, pqf);
                if (e) {
                    printf(",\"pqf\":null,\"pqf_error\":[%d,", e);
                    str(wrbuf_cstr(addinfo));
                    putchar(']');
                } else {
                    fputs(",\"pqf\":", stdout);
                    str(wrbuf_cstr(pqf));
                    fputs(",\"pqf_error\":null", stdout);
                }
                wrbuf_destroy(pqf);
                wrbuf_destroy(addinfo);
            } else {
                fputs(",\"pqf\":null,\"pqf_error\":null", stdout);
            }
            puts("}");
        }
        fflush(stdout);
        cql_parser_destroy(cp);
    }
    if (ct)
        cql_transform_close(ct);
    return 0;
}
