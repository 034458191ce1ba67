/* The HTML report's style sheet and script (user/html/), compiled in by the
 * Makefile with xxd -i into $(BUILD)/html_assets.c.  Not NUL-terminated. */
#ifndef LEAKTOP_HTML_ASSETS_H
#define LEAKTOP_HTML_ASSETS_H

extern unsigned char html_report_css[], html_report_js[];
extern unsigned int html_report_css_len, html_report_js_len;

#endif
