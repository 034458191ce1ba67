/* Pieces of the JSON line (DESIGN.md) for views that embed the same objects. */
#ifndef LEAKTOP_OUTPUT_JSON_H
#define LEAKTOP_OUTPUT_JSON_H

#include <json-c/json.h>
#include "report.h"

/* One frame as in "frames": kind, function, file, line, object. */
json_object *report_frame_json(const struct frame *f);

/* A stack's "id", "outstanding_bytes", "outstanding_allocs" and
 * "growth_bytes_per_s" into o. */
void report_stack_json_figures(json_object *o, const struct report_stack *s);

/* The top-level figures of the line (all its keys but "stacks") into o. */
void report_json_header(json_object *o, const struct report *r);

#endif
