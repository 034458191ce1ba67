/* Prints the CPython struct offsets leaktop needs (user/python_layouts.c),
 * for the headers of one Python version (3.10 to 3.13):
 *   gcc -I/usr/include/python3.11 scripts/python-offsets.c -o /tmp/pyoff && /tmp/pyoff
 * (pyenv: -I$(pyenv root)/versions/3.12.1/include/python3.12). */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_runtime.h>
#if PY_VERSION_HEX >= 0x030B0000
#include <internal/pycore_frame.h>
#else
#include <frameobject.h>
#endif
#include <internal/pycore_code.h>
#include <internal/pycore_interp.h>
#include <stddef.h>
#include <stdio.h>
#define O(t, f) printf("%-40s %zu\n", #t "." #f, offsetof(t, f))
int main(void)
{
	printf("Python %s\n", PY_VERSION);
#if PY_VERSION_HEX < 0x030C0000
	O(_PyRuntimeState, gilstate.tstate_current);
#endif
	O(_PyRuntimeState, interpreters.head);
#if PY_VERSION_HEX < 0x030B0000
	O(PyInterpreterState, tstate_head);
#else
	O(PyInterpreterState, threads.head);
#endif
#if PY_VERSION_HEX >= 0x030B0000
	O(PyThreadState, native_thread_id);
#endif
	O(PyThreadState, thread_id);	/* pthread_self(): the thread pointer */
	O(PyThreadState, next);
	O(PyThreadState, interp);
#if PY_VERSION_HEX < 0x030B0000
	/* 3.10: a chain of frame objects */
	O(PyThreadState, frame);
	O(PyFrameObject, f_back);
	O(PyFrameObject, f_code);
	O(PyFrameObject, f_lasti);
	O(PyCodeObject, co_code);
#else
#if PY_VERSION_HEX < 0x030D0000
	O(PyThreadState, cframe);
	O(_PyCFrame, current_frame);
	O(_PyInterpreterFrame, f_code);
	O(_PyInterpreterFrame, prev_instr);
#else
	O(PyThreadState, current_frame);
	O(_PyInterpreterFrame, f_executable);
	O(_PyInterpreterFrame, instr_ptr);
#endif
	O(_PyInterpreterFrame, previous);
	O(_PyInterpreterFrame, owner);
	O(PyCodeObject, co_qualname);
	O(PyCodeObject, co_code_adaptive);
	printf("OWNED_BY_THREAD %d GEN %d FRAME_OBJ %d\n", FRAME_OWNED_BY_THREAD,
	       FRAME_OWNED_BY_GENERATOR, FRAME_OWNED_BY_FRAME_OBJECT);
#endif
#if PY_VERSION_HEX >= 0x030C0000
	printf("OWNED_BY_CSTACK %d\n", FRAME_OWNED_BY_CSTACK);
	O(PyCodeObject, co_version);
#endif
	O(PyCodeObject, co_filename);
	O(PyCodeObject, co_name);
	O(PyCodeObject, co_linetable);
	O(PyCodeObject, co_firstlineno);
	O(PyObject, ob_type);
	O(PyBytesObject, ob_sval);
	O(PyVarObject, ob_size);
	O(PyASCIIObject, length);
	O(PyASCIIObject, state);
	printf("sizeof PyASCIIObject %zu PyCompactUnicodeObject %zu\n", sizeof(PyASCIIObject),
	       sizeof(PyCompactUnicodeObject));
	return 0;
}
