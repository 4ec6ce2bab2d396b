# Included by _native.pyx: a compiled __init__ for eventyard.core.values.quick_init.

from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from types import MemberDescriptorType

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char *name
        int type
        Py_ssize_t offset
        int flags
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member
    int PyObject_TypeCheck(object, PyTypeObject *)

cdef extern from "structmember.h":
    int T_OBJECT_EX

cdef enum:
    _MAX_SLOTS = 16  # fields a class may have (quick_init's values have at most 7)


cdef class _SlotFiller:
    """Where each field's slot sits in a class's instances, and the fields' defaults."""
    cdef Py_ssize_t offsets[_MAX_SLOTS]
    cdef Py_ssize_t count, required
    cdef tuple defaults
    cdef type cls

    cdef int fill(self, object obj, tuple args) except -1:
        cdef Py_ssize_t i, given = len(args)
        cdef PyObject **slot
        cdef PyObject *old
        cdef object value
        if not PyObject_TypeCheck(obj, <PyTypeObject *>self.cls):
            raise TypeError(f"{self.cls.__qualname__}.__init__ needs a {self.cls.__qualname__}, "
                            f"not {type(obj).__qualname__}")
        if given < self.required or given > self.count:
            return 1  # the Python __init__ raises the TypeError a dataclass raises
        for i in range(self.count):
            value = args[i] if i < given else self.defaults[i - self.required]
            slot = <PyObject **>(<char *><void *>obj + self.offsets[i])
            old = slot[0]
            Py_INCREF(value)
            slot[0] = <PyObject *>value
            Py_XDECREF(old)  # after the store: a finalizer it runs sees the new value
        return 0


def slot_init(type cls not None, tuple names not None, tuple defaults not None, object python_init not None):
    """An `__init__` for the frozen slotted dataclass `cls` (fields `names`, the last
    ones with `defaults`) that stores positional arguments straight into the slots,
    as the slots' descriptors would; keywords, or a count of arguments that does not
    fit, go to `python_init` (the same signature, written in Python)."""
    cdef _SlotFiller filler = _SlotFiller()
    cdef Py_ssize_t i
    if len(names) > _MAX_SLOTS or len(defaults) > len(names):
        raise TypeError(f"slot_init takes at most {_MAX_SLOTS} fields")
    for i, name in enumerate(names):
        descr = cls.__dict__.get(name)
        if type(descr) is not MemberDescriptorType or (<PyMemberDescrObject *>descr).d_member.type != T_OBJECT_EX:
            raise TypeError(f"{cls.__qualname__}.{name} is not an object slot")
        filler.offsets[i] = (<PyMemberDescrObject *>descr).d_member.offset
    filler.count = len(names)
    filler.required = len(names) - len(defaults)
    filler.defaults = defaults
    filler.cls = cls

    def __init__(self, *args, **kwargs):
        if kwargs or filler.fill(self, args):
            python_init(self, *args, **kwargs)

    return __init__
