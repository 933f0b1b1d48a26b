/* core._slots: make and fill objects of frozen, slotted dataclasses, fast.
 *
 * A frozen dataclass's __init__ sets each field with object.__setattr__, which looks the
 * attribute up on the type every time: for core.Record (29 fields) that was a tenth of
 * normalizing a record; and binding 29 keyword arguments to a Python function costs about
 * as much again.
 *
 * fill(obj, descriptors, values) calls each slot descriptor's own setter (tp_descr_set: the
 * member descriptor checks that it applies to obj's type and stores the value), with no
 * lookup. Maker(cls, descriptors, names, defaults, missing) is a callable taking the
 * arguments of cls's __init__ (positional or by name) that makes the object and fills it.
 * core/fastinit.py is the only user and has the same in Python for an install without a
 * compiler.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

PyDoc_STRVAR(fill_doc,
"fill(obj, descriptors, values) -> None\n\n"
"descriptors[i].__set__(obj, values[i]) for each i; both tuples of the same length.");

static PyObject *
fill(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "fill() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *obj = args[0], *descriptors = args[1], *values = args[2];
    if (!PyTuple_CheckExact(descriptors) || !PyTuple_CheckExact(values)) {
        PyErr_SetString(PyExc_TypeError, "fill(): descriptors and values must be tuples");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(descriptors);
    if (PyTuple_GET_SIZE(values) != n) {
        PyErr_Format(PyExc_ValueError, "fill(): %zd descriptors but %zd values", n,
                     PyTuple_GET_SIZE(values));
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *descriptor = PyTuple_GET_ITEM(descriptors, i);
        descrsetfunc set = Py_TYPE(descriptor)->tp_descr_set;
        if (set == NULL) {
            PyErr_Format(PyExc_TypeError, "fill(): %R is not a data descriptor", descriptor);
            return NULL;
        }
        if (set(descriptor, obj, PyTuple_GET_ITEM(values, i)) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* -- Maker -------------------------------------------------------------------------------- */

#define MAX_FIELDS 64

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyTypeObject *cls;
    PyObject *descriptors; /* tuple, one per field */
    PyObject *names;       /* tuple of interned str, the __init__ parameters in order */
    PyObject *defaults;    /* tuple: each field's default, or `missing` when required */
    PyObject *missing;
} Maker;

static Py_ssize_t
field_index(Maker *m, PyObject *name)
{
    Py_ssize_t n = PyTuple_GET_SIZE(m->names);
    for (Py_ssize_t j = 0; j < n; j++) {
        if (PyTuple_GET_ITEM(m->names, j) == name) {
            return j;
        }
    }
    for (Py_ssize_t j = 0; j < n; j++) { /* a name that was not interned */
        int equal = PyUnicode_Compare(PyTuple_GET_ITEM(m->names, j), name);
        if (equal == 0) {
            return j;
        }
        if (equal == -1 && PyErr_Occurred()) {
            return -2;
        }
    }
    return -1;
}

static PyObject *
maker_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Maker *m = (Maker *)self;
    const char *cls_name = m->cls->tp_name;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t n = PyTuple_GET_SIZE(m->names);
    PyObject *values[MAX_FIELDS]; /* borrowed: from args or defaults */
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", cls_name, n,
                     nargs);
        return NULL;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        values[j] = j < nargs ? args[j] : NULL;
    }
    Py_ssize_t n_keywords = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < n_keywords; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        Py_ssize_t j = field_index(m, name);
        if (j == -2) {
            return NULL;
        }
        if (j < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'",
                         cls_name, name);
            return NULL;
        }
        if (values[j] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%S'",
                         cls_name, name);
            return NULL;
        }
        values[j] = args[nargs + k];
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        if (values[j] == NULL) {
            values[j] = PyTuple_GET_ITEM(m->defaults, j);
            if (values[j] == m->missing) {
                PyErr_Format(PyExc_TypeError, "%s() missing required argument '%S'",
                             cls_name, PyTuple_GET_ITEM(m->names, j));
                return NULL;
            }
        }
    }
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) {
        return NULL;
    }
    PyObject *obj = m->cls->tp_new(m->cls, empty, NULL);
    Py_DECREF(empty);
    if (obj == NULL) {
        return NULL;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *descriptor = PyTuple_GET_ITEM(m->descriptors, j);
        if (Py_TYPE(descriptor)->tp_descr_set(descriptor, obj, values[j]) < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    return obj;
}

static PyObject *
maker_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *cls, *descriptors, *names, *defaults, *missing;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Maker() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!O!O!O!O:Maker", &PyType_Type, &cls, &PyTuple_Type,
                          &descriptors, &PyTuple_Type, &names, &PyTuple_Type, &defaults,
                          &missing)) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (n > MAX_FIELDS || PyTuple_GET_SIZE(descriptors) != n
        || PyTuple_GET_SIZE(defaults) != n) {
        PyErr_Format(PyExc_ValueError,
                     "Maker(): names, descriptors and defaults of one length, at most %d",
                     MAX_FIELDS);
        return NULL;
    }
    if (((PyTypeObject *)cls)->tp_new == NULL) {
        PyErr_Format(PyExc_TypeError, "Maker(): %R cannot be instantiated", cls);
        return NULL;
    }
    PyObject *interned = PyTuple_New(n);
    if (interned == NULL) {
        return NULL;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *name = PyTuple_GET_ITEM(names, j);
        PyObject *descriptor = PyTuple_GET_ITEM(descriptors, j);
        if (!PyUnicode_CheckExact(name) || Py_TYPE(descriptor)->tp_descr_set == NULL) {
            Py_DECREF(interned);
            PyErr_SetString(PyExc_TypeError, "Maker(): names are str, descriptors settable");
            return NULL;
        }
        Py_INCREF(name);
        PyUnicode_InternInPlace(&name);
        PyTuple_SET_ITEM(interned, j, name);
    }
    Maker *m = PyObject_GC_New(Maker, type);
    if (m == NULL) {
        Py_DECREF(interned);
        return NULL;
    }
    m->vectorcall = maker_vectorcall;
    m->cls = (PyTypeObject *)Py_NewRef(cls);
    m->descriptors = Py_NewRef(descriptors);
    m->names = interned;
    m->defaults = Py_NewRef(defaults);
    m->missing = Py_NewRef(missing);
    PyObject_GC_Track(m);
    return (PyObject *)m;
}

static int
maker_traverse(Maker *m, visitproc visit, void *arg)
{
    Py_VISIT(m->cls);
    Py_VISIT(m->descriptors);
    Py_VISIT(m->names);
    Py_VISIT(m->defaults);
    Py_VISIT(m->missing);
    return 0;
}

static int
maker_clear(Maker *m)
{
    Py_CLEAR(m->cls);
    Py_CLEAR(m->descriptors);
    Py_CLEAR(m->names);
    Py_CLEAR(m->defaults);
    Py_CLEAR(m->missing);
    return 0;
}

static void
maker_dealloc(Maker *m)
{
    PyObject_GC_UnTrack(m);
    maker_clear(m);
    PyObject_GC_Del(m);
}

static PyObject *
maker_repr(Maker *m)
{
    return PyUnicode_FromFormat("<Maker of %s>", m->cls->tp_name);
}

PyDoc_STRVAR(maker_doc,
"Maker(cls, descriptors, names, defaults, missing)\n--\n\n"
"A callable taking cls's fields (positional, in order, or by name) that makes a cls and\n"
"fills its slots; a default that is `missing` makes its field required.");

static PyTypeObject MakerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "core._slots.Maker",
    .tp_basicsize = sizeof(Maker),
    .tp_dealloc = (destructor)maker_dealloc,
    .tp_vectorcall_offset = offsetof(Maker, vectorcall),
    .tp_repr = (reprfunc)maker_repr,
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = maker_doc,
    .tp_traverse = (traverseproc)maker_traverse,
    .tp_clear = (inquiry)maker_clear,
    .tp_new = maker_new,
};

static int
module_exec(PyObject *module)
{
    if (PyType_Ready(&MakerType) < 0) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "Maker", (PyObject *)&MakerType);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static PyMethodDef methods[] = {
    {"fill", (PyCFunction)(void (*)(void))fill, METH_FASTCALL, fill_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "core._slots",
    .m_doc = "Make and fill objects of frozen, slotted dataclasses fast (see core.fastinit).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__slots(void)
{
    return PyModuleDef_Init(&module_def);
}
