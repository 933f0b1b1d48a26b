/* The hot half of reading an ISO 2709 record, in C: framing and splitting decoded text into
 * fields and subfields. Both are pure functions over bytes / str, with no state of their own.
 *
 *   frame(data)                                 == iso2709._parse_contiguous_py(data)
 *   fields(DataField, nfc, code, tags, text)    == marc._fields_py(tags, text)
 *
 * Charset detection, MARC-8 / ISO 5426 decoding and every lenient path stay in Python; the
 * pure-Python functions named above are the specification and the fallback when this module
 * is not built, and tests/test_marc_fastread.py checks that both give the same results.
 *
 * Memory: every index is checked against the length of the buffer it reads; the text is read
 * through its own kind (1, 2 or 4 bytes a character). Tuples that hold only strings (or such
 * tuples) cannot take part in a reference cycle, so they are untracked by the collector once
 * filled, as CPython itself does for them lazily.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define LEADER 24
#define ENTRY 12
#define MAX_RECORD 99999
#define FT 0x1E
#define SF 0x1F
#define RT 0x1D

/* Tags "000".."999" as shared strings: most records use only these. */
static PyObject *digit_tags[1000];

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_alnum(unsigned char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static Py_ssize_t
digits(const unsigned char *p, int n)
{
    Py_ssize_t value = 0;
    for (int i = 0; i < n; i++) {
        value = value * 10 + (p[i] - '0');
    }
    return value;
}

static PyObject *
tag_string(const unsigned char *p)
{
    if (is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2])) {
        Py_ssize_t k = digits(p, 3);
        if (digit_tags[k] == NULL) {
            digit_tags[k] = PyUnicode_FromStringAndSize((const char *)p, 3);
            if (digit_tags[k] == NULL) {
                return NULL;
            }
        }
        return Py_NewRef(digit_tags[k]);
    }
    return PyUnicode_FromStringAndSize((const char *)p, 3);
}

PyDoc_STRVAR(frame_doc,
"frame(data, /)\n--\n\n"
"(leader, tags, data area with the fields in directory order) of a record whose directory\n"
"is sound, else None.\n\n"
"The same as normalizers.iso2709.parse_contiguous in pure Python; data is bytes or\n"
"any other bytes-like object (leader and data area come back as bytes).");

static PyObject *framed(const unsigned char *d, Py_ssize_t size);

static PyObject *
frame(PyObject *module, PyObject *arg)
{
    if (PyBytes_Check(arg)) {
        return framed((const unsigned char *)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg));
    }
    if (PyUnicode_Check(arg) || !PyObject_CheckBuffer(arg)) {
        PyErr_Format(PyExc_TypeError, "frame() wants bytes, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Py_buffer view; /* bytearray, memoryview...: held (and unresizable) until released */
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *result = framed((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return result;
}

/* The data area with the fields where the directory says they are, in directory order:
   each entry's field of its declared length inside the data area, ending with its field
   terminator and holding no other. For records stored in another order than their directory
   (IRBIS and the NLR export do this) or with gaps. None when an entry does not fit. */
static PyObject *
fields_by_directory(const unsigned char *d, Py_ssize_t size, Py_ssize_t base, Py_ssize_t count)
{
    Py_ssize_t area = size - base, total = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        const unsigned char *e = d + LEADER + k * ENTRY;
        Py_ssize_t length = digits(e + 3, 4), start = digits(e + 7, 5);
        if (length == 0 || start > area || length > area - start) {
            Py_RETURN_NONE;
        }
        const unsigned char *field = d + base + start;
        if (field[length - 1] != FT || memchr(field, FT, (size_t)(length - 1)) != NULL) {
            Py_RETURN_NONE;
        }
        total += length; /* at most 99999 * 9999: no overflow */
    }
    PyObject *body = PyBytes_FromStringAndSize(NULL, total);
    if (body == NULL) {
        return NULL;
    }
    char *out = PyBytes_AS_STRING(body);
    for (Py_ssize_t k = 0; k < count; k++) {
        const unsigned char *e = d + LEADER + k * ENTRY;
        Py_ssize_t length = digits(e + 3, 4), start = digits(e + 7, 5);
        memcpy(out, d + base + start, (size_t)length);
        out += length;
    }
    return body;
}

/* The data area as it is when the fields are stored in directory order from its start,
   each of its declared length, then nothing or the record terminator; else None. */
static PyObject *
contiguous_fields(const unsigned char *d, Py_ssize_t size, Py_ssize_t base, Py_ssize_t count)
{
    if (memcmp(d + LEADER + 7, "00000", 5) != 0) {
        Py_RETURN_NONE;
    }
    Py_ssize_t pos = base;
    for (Py_ssize_t k = 0; k < count; k++) {
        const unsigned char *start = d + pos;
        const unsigned char *end = memchr(start, FT, (size_t)(size - pos));
        if (end == NULL || (end - start) + 1 != digits(d + LEADER + k * ENTRY + 3, 4)) {
            Py_RETURN_NONE;
        }
        pos = (end - d) + 1;
    }
    if (!(pos == size || (pos + 1 == size && d[pos] == RT))) {
        Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize((const char *)d + base, size - base);
}

static PyObject *
framed(const unsigned char *d, Py_ssize_t size)
{
    if (size < LEADER + 1 || size > MAX_RECORD || d[20] != '4' || d[21] != '5') {
        Py_RETURN_NONE;
    }
    for (int i = 12; i < 17; i++) {
        if (!is_digit(d[i])) {
            Py_RETURN_NONE;
        }
    }
    Py_ssize_t base = digits(d + 12, 5);
    if (base < LEADER + 1 || base > size || d[base - 1] != FT || (base - LEADER - 1) % ENTRY) {
        Py_RETURN_NONE;
    }
    Py_ssize_t count = (base - LEADER - 1) / ENTRY;
    if (count == 0) {
        Py_RETURN_NONE;
    }
    /* every entry: 3 letters/digits, 4 + 5 digits */
    for (Py_ssize_t k = 0; k < count; k++) {
        const unsigned char *e = d + LEADER + k * ENTRY; /* e + 12 <= d + base - 1 */
        if (!is_alnum(e[0]) || !is_alnum(e[1]) || !is_alnum(e[2])) {
            Py_RETURN_NONE;
        }
        for (int i = 3; i < ENTRY; i++) {
            if (!is_digit(e[i])) {
                Py_RETURN_NONE;
            }
        }
    }
    PyObject *body = contiguous_fields(d, size, base, count);
    if (body == Py_None) {
        Py_DECREF(body);
        body = fields_by_directory(d, size, base, count);
    }
    if (body == NULL || body == Py_None) {
        return body;
    }
    PyObject *result = PyTuple_New(3);
    PyObject *tags = PyList_New(count);
    if (result == NULL || tags == NULL) {
        Py_XDECREF(result);
        Py_XDECREF(tags);
        Py_DECREF(body);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 2, body);
    PyTuple_SET_ITEM(result, 1, tags);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *tag = tag_string(d + LEADER + k * ENTRY);
        if (tag == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(tags, k, tag);
    }
    PyObject *leader = PyBytes_FromStringAndSize((const char *)d, LEADER);
    if (leader == NULL) {
        Py_DECREF(result);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, leader);
    return result;
}

/* -- fields ---------------------------------------------------------------------------- */

/* The first ``ch`` in text[start:end], or -1. */
static Py_ssize_t
find_char(int kind, const void *data, Py_ssize_t start, Py_ssize_t end, Py_UCS4 ch)
{
    if (start >= end) {
        return -1;
    }
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *p = (const Py_UCS1 *)data;
        const Py_UCS1 *hit = memchr(p + start, (int)ch, (size_t)(end - start));
        return hit == NULL ? -1 : hit - p;
    }
    if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *p = (const Py_UCS2 *)data;
        for (Py_ssize_t i = start; i < end; i++) {
            if (p[i] == ch) {
                return i;
            }
        }
        return -1;
    }
    const Py_UCS4 *p = (const Py_UCS4 *)data;
    for (Py_ssize_t i = start; i < end; i++) {
        if (p[i] == ch) {
            return i;
        }
    }
    return -1;
}

/* Ranges [from, to) of code points whose strings are already in NFC, whatever their
   neighbours from the same ranges: each has combining class 0, is NFC by itself, and no pair
   of them composes (tests/test_marc_fastread.py checks every pair against unicodedata;
   the module exports the table as NFC_STABLE). Latin, Cyrillic, general punctuation. */
static const Py_UCS4 stable[][2] = {
    {0x0000, 0x0300}, /* up to the combining diacritical marks */
    {0x0400, 0x0483}, /* Cyrillic, up to its combining marks */
    {0x048A, 0x0530}, /* the rest of Cyrillic and Cyrillic Supplement */
    {0x2010, 0x2070}, /* general punctuation after the singleton spaces U+2000-2001 */
};
#define N_STABLE ((int)(sizeof(stable) / sizeof(stable[0])))

static int
nfc_stable(Py_UCS4 c)
{
    for (int i = 0; i < N_STABLE; i++) {
        if (c < stable[i][1]) {
            return c >= stable[i][0];
        }
    }
    return 0;
}

/* ``value`` in NFC: itself when every character is stable, else nfc(value). Steals. */
static PyObject *
normalized(PyObject *value, PyObject *nfc)
{
    int kind = PyUnicode_KIND(value);
    if (kind == PyUnicode_1BYTE_KIND) {
        return value;
    }
    if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *p = PyUnicode_2BYTE_DATA(value);
        Py_ssize_t n = PyUnicode_GET_LENGTH(value);
        Py_ssize_t i = 0;
        while (i < n && nfc_stable(p[i])) {
            i++;
        }
        if (i == n) {
            return value;
        }
    }
    PyObject *result = PyObject_CallOneArg(nfc, value);
    Py_DECREF(value);
    if (result != NULL && !PyUnicode_CheckExact(result)) {
        PyErr_Format(PyExc_TypeError, "nfc() returned %.100s, not str",
                     Py_TYPE(result)->tp_name);
        Py_CLEAR(result);
    }
    return result;
}

/* A subfield code: ASCII as it is, anything else through code(). */
static PyObject *
subfield_code(Py_UCS4 c, PyObject *code)
{
    PyObject *chr = PyUnicode_FromOrdinal((int)c);
    if (chr == NULL || c < 0x80) {
        return chr;
    }
    PyObject *result = PyObject_CallOneArg(code, chr);
    Py_DECREF(chr);
    if (result != NULL && !PyUnicode_CheckExact(result)) {
        PyErr_Format(PyExc_TypeError, "code() returned %.100s, not str",
                     Py_TYPE(result)->tp_name);
        Py_CLEAR(result);
    }
    return result;
}

/* (a, b), untracked: it holds two strings (or untracked tuples) and can be in no cycle.
   Steals both. */
static PyObject *
pair(PyObject *a, PyObject *b)
{
    PyObject *t = PyTuple_New(2);
    if (t == NULL) {
        Py_DECREF(a);
        Py_DECREF(b);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, a);
    PyTuple_SET_ITEM(t, 1, b);
    PyObject_GC_UnTrack(t);
    return t;
}

/* One indicator: the character if there is one before the first subfield and it is
   printable, else a blank. */
static PyObject *
indicator(int kind, const void *data, Py_ssize_t at, Py_ssize_t first_sub)
{
    if (at < first_sub) {
        Py_UCS4 c = PyUnicode_READ(kind, data, at);
        if (Py_UNICODE_ISPRINTABLE(c)) {
            return PyUnicode_FromOrdinal((int)c);
        }
    }
    return PyUnicode_FromOrdinal(' ');
}

/* The subfields of text[first_sub:end] (first_sub is a subfield delimiter), as a tuple of
   (code, value) pairs; empty parts are skipped. */
static PyObject *
subfields(PyObject *text, Py_ssize_t first_sub, Py_ssize_t end, PyObject *nfc, PyObject *code)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t count = 0;
    for (Py_ssize_t i = first_sub; i < end;) {
        Py_ssize_t next = find_char(kind, data, i + 1, end, SF);
        Py_ssize_t stop = next < 0 ? end : next;
        count += stop > i + 1;
        i = stop;
    }
    PyObject *subs = PyTuple_New(count);
    if (subs == NULL) {
        return NULL;
    }
    PyObject_GC_UnTrack(subs); /* from now on: code() and nfc() cannot reach it half-filled */
    Py_ssize_t j = 0;
    for (Py_ssize_t i = first_sub; i < end && j < count;) {
        Py_ssize_t next = find_char(kind, data, i + 1, end, SF);
        Py_ssize_t stop = next < 0 ? end : next;
        if (stop > i + 1) {
            PyObject *c = subfield_code(PyUnicode_READ(kind, data, i + 1), code);
            if (c == NULL) {
                Py_DECREF(subs);
                return NULL;
            }
            PyObject *value = PyUnicode_Substring(text, i + 2, stop);
            if (value != NULL) {
                value = normalized(value, nfc);
            }
            if (value == NULL) {
                Py_DECREF(c);
                Py_DECREF(subs);
                return NULL;
            }
            PyObject *item = pair(c, value);
            if (item == NULL) {
                Py_DECREF(subs);
                return NULL;
            }
            PyTuple_SET_ITEM(subs, j++, item);
        }
        i = stop;
    }
    if (j != count) { /* cannot happen: both loops read the same text */
        Py_DECREF(subs);
        PyErr_SetString(PyExc_SystemError, "_marcread: subfield count changed");
        return NULL;
    }
    return subs;
}

typedef struct {
    Py_ssize_t start, end, first_sub;
    int control;
} Piece;

#define STACK_PIECES 64

static int
is_control_tag(PyObject *tag)
{
    return PyUnicode_GET_LENGTH(tag) >= 2 && PyUnicode_READ_CHAR(tag, 0) == '0'
        && PyUnicode_READ_CHAR(tag, 1) == '0';
}

static int
usable_field_type(PyObject *type)
{
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)) {
        return 0;
    }
    PyTypeObject *t = (PyTypeObject *)type;
    return t->tp_basicsize == PyTuple_Type.tp_basicsize
        && t->tp_itemsize == PyTuple_Type.tp_itemsize && t->tp_dictoffset == 0
        && t->tp_alloc != NULL;
}

static PyObject *
build(PyObject *tags, PyObject *text, PyTypeObject *field_type, PyObject *nfc,
      PyObject *code, Piece *pieces, Py_ssize_t n)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n_control = 0, seen_data = 0;
    int in_order = 1;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (pieces[k].control) {
            n_control++;
            in_order = in_order && !seen_data;
        }
        else {
            seen_data = 1;
        }
    }
    PyObject *control = PyTuple_New(n_control);
    PyObject *fields = PyTuple_New(n - n_control);
    PyObject *order = in_order ? PyUnicode_New(0, 0) : PyUnicode_New(n, 127);
    if (control == NULL || fields == NULL || order == NULL) {
        goto fail;
    }
    /* half-filled while nfc() and code() run: out of the collector's (and gc module's) reach */
    PyObject_GC_UnTrack(control);
    PyObject_GC_UnTrack(fields);
    Py_ssize_t ic = 0, id = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        Piece *p = &pieces[k];
        PyObject *tag = PyTuple_GET_ITEM(tags, k);
        if (!in_order) {
            PyUnicode_1BYTE_DATA(order)[k] = p->control ? 'c' : 'd';
        }
        if (p->control) {
            PyObject *value = PyUnicode_Substring(text, p->start, p->end);
            if (value != NULL) {
                value = normalized(value, nfc);
            }
            PyObject *item = value == NULL ? NULL : pair(Py_NewRef(tag), value);
            if (item == NULL) {
                goto fail;
            }
            PyTuple_SET_ITEM(control, ic++, item);
            continue;
        }
        PyObject *ind1 = indicator(kind, data, p->start, p->first_sub);
        PyObject *ind2 = indicator(kind, data, p->start + 1, p->first_sub);
        PyObject *subs = subfields(text, p->first_sub, p->end, nfc, code);
        PyObject *field = NULL;
        if (ind1 != NULL && ind2 != NULL && subs != NULL) {
            field = field_type->tp_alloc(field_type, 4);
        }
        if (field == NULL) {
            Py_XDECREF(ind1);
            Py_XDECREF(ind2);
            Py_XDECREF(subs);
            goto fail;
        }
        PyTuple_SET_ITEM(field, 0, Py_NewRef(tag));
        PyTuple_SET_ITEM(field, 1, ind1);
        PyTuple_SET_ITEM(field, 2, ind2);
        PyTuple_SET_ITEM(field, 3, subs);
        PyObject_GC_UnTrack(field);
        PyTuple_SET_ITEM(fields, id++, field);
    }
    PyObject *result = PyTuple_New(3);
    if (result == NULL) {
        goto fail;
    }
    PyTuple_SET_ITEM(result, 0, control);
    PyTuple_SET_ITEM(result, 1, fields);
    PyTuple_SET_ITEM(result, 2, order);
    return result;
fail:
    Py_XDECREF(control);
    Py_XDECREF(fields);
    Py_XDECREF(order);
    return NULL;
}

PyDoc_STRVAR(fields_doc,
"fields(field_type, nfc, code, tags, text, /)\n--\n\n"
"(control, data fields, order) from a record's decoded data area, else None when it\n"
"holds fewer fields than tags.\n\n"
"The same as normalizers.marc._fields_py in pure Python.");

static PyObject *
fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_Format(PyExc_TypeError, "fields() takes 5 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *type = args[0], *nfc = args[1], *code = args[2];
    PyObject *tags_arg = args[3], *text = args[4];
    if (!PyList_Check(tags_arg) && !PyTuple_Check(tags_arg)) {
        PyErr_SetString(PyExc_TypeError, "fields(): tags must be a list or tuple");
        return NULL;
    }
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "fields(): text must be str");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
#endif
    if (!usable_field_type(type)) {
        PyErr_SetString(PyExc_TypeError, "fields(): field_type must be a plain tuple subclass");
        return NULL;
    }
    if (!PyCallable_Check(nfc) || !PyCallable_Check(code)) {
        PyErr_SetString(PyExc_TypeError, "fields(): nfc and code must be callable");
        return NULL;
    }
    /* our own snapshot of the tags: nfc() and code() may run any Python code */
    PyObject *tags = PySequence_Tuple(tags_arg);
    if (tags == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tags);
    for (Py_ssize_t k = 0; k < n; k++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(tags, k))) {
            Py_DECREF(tags);
            PyErr_SetString(PyExc_TypeError, "fields(): tags must be str");
            return NULL;
        }
    }
    Piece stack[STACK_PIECES];
    Piece *pieces = n <= STACK_PIECES ? stack : PyMem_New(Piece, n);
    if (pieces == NULL) {
        Py_DECREF(tags);
        return PyErr_NoMemory();
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_ssize_t start = 0;
    PyObject *result = NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (start > length) { /* text.split(FT) has fewer parts than there are tags */
            result = Py_NewRef(Py_None);
            goto done;
        }
        Py_ssize_t end = find_char(kind, data, start, length, FT);
        if (end < 0) {
            end = length;
        }
        pieces[k].start = start;
        pieces[k].end = end;
        pieces[k].first_sub = find_char(kind, data, start, end, SF);
        pieces[k].control = pieces[k].first_sub < 0 || is_control_tag(PyTuple_GET_ITEM(tags, k));
        start = end + 1;
    }
    result = build(tags, text, (PyTypeObject *)type, nfc, code, pieces, n);
done:
    if (pieces != stack) {
        PyMem_Free(pieces);
    }
    Py_DECREF(tags);
    return result;
}

static PyMethodDef methods[] = {
    {"frame", (PyCFunction)frame, METH_O, frame_doc},
    {"fields", (PyCFunction)(void (*)(void))fields, METH_FASTCALL, fields_doc},
    {NULL, NULL, 0, NULL},
};

static void
module_free(void *module)
{
    for (int k = 0; k < 1000; k++) {
        Py_CLEAR(digit_tags[k]);
    }
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "normalizers._marcread",
    .m_doc = "ISO 2709 framing and field splitting in C (see normalizers.iso2709, .marc).",
    .m_size = -1,
    .m_methods = methods,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__marcread(void)
{
    PyObject *module = PyModule_Create(&module_def);
    PyObject *table = module == NULL ? NULL : PyTuple_New(N_STABLE);
    if (table == NULL) {
        Py_XDECREF(module);
        return NULL;
    }
    for (int i = 0; i < N_STABLE; i++) {
        PyObject *range = Py_BuildValue("(kk)", (unsigned long)stable[i][0],
                                        (unsigned long)stable[i][1]);
        if (range == NULL) {
            Py_DECREF(table);
            Py_DECREF(module);
            return NULL;
        }
        PyTuple_SET_ITEM(table, i, range);
    }
    if (PyModule_AddObject(module, "NFC_STABLE", table) < 0) {
        Py_DECREF(table);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
