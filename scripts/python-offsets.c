/* Prints the CPython struct offsets leaktop needs (user/python_layouts.c),
 * for the headers of one Python version:
 *   gcc -I/usr/include/python3.11 scripts/python-offsets.c -o /tmp/pyoff && /tmp/pyoff
 * (pyenv: -I~/.pyenv/versions/3.11.7/include/python3.11). */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_runtime.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_code.h>
#include <stddef.h>
#include <stdio.h>
#define O(t, f) printf("%-40s %zu\n", #t "." #f, offsetof(t, f))
int main(void){
O(_PyRuntimeState, gilstate.tstate_current);
O(_PyRuntimeState, interpreters.head);
O(PyThreadState, native_thread_id);
O(PyThreadState, thread_id);
O(PyThreadState, cframe);
O(PyThreadState, next);
O(PyThreadState, interp);
O(_PyCFrame, current_frame);
O(_PyInterpreterFrame, f_code);
O(_PyInterpreterFrame, previous);
O(_PyInterpreterFrame, prev_instr);
O(_PyInterpreterFrame, owner);
O(_PyInterpreterFrame, is_entry);
O(PyCodeObject, co_filename);
O(PyCodeObject, co_name);
O(PyCodeObject, co_qualname);
O(PyCodeObject, co_linetable);
O(PyCodeObject, co_firstlineno);
O(PyCodeObject, co_code_adaptive);
O(PyObject, ob_type);
O(PyBytesObject, ob_sval);
O(PyVarObject, ob_size);
O(PyASCIIObject, length);
O(PyASCIIObject, state);
printf("sizeof PyASCIIObject %zu PyCompactUnicodeObject %zu\n", sizeof(PyASCIIObject), sizeof(PyCompactUnicodeObject));
printf("OWNED_BY_THREAD %d GEN %d FRAME_OBJ %d\n", FRAME_OWNED_BY_THREAD, FRAME_OWNED_BY_GENERATOR, FRAME_OWNED_BY_FRAME_OBJECT);
}
