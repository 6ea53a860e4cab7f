/* STAND-IN for Meadowlark's Blink_C_wrapper (PCIe, Blink Plus) built by the tests: the signatures of
 * Blink_C_wrapper.h, recording every call and its arguments; see standin.h. */
#include "standin.h"

static int g_w = 64, g_h = 48, g_depth = 8, g_boards = 1, g_ok = 1, g_created = 0;
static double g_temp = 35.5;
static char g_err[256] = "";

void standin_geometry(int w, int h, int depth, int boards, int constructed_ok) {
    g_w = w; g_h = h; g_depth = depth; g_boards = boards; g_ok = constructed_ok;
}

void Create_SDK(unsigned int *n_boards_found, int *constructed_ok) {
    rec("Create_SDK");
    g_created = 1;
    *n_boards_found = (unsigned int)g_boards;
    *constructed_ok = g_ok;
    if (!g_ok) strcpy(g_err, "no Meadowlark board found (stand-in)");
}
void Delete_SDK(void) { rec("Delete_SDK"); g_created = 0; }
const char *Get_last_error_message(void) { rec("Get_last_error_message"); return g_err; }

int Load_LUT_file(int board, char *LUT_file) {
    int code;
    rec("Load_LUT_file board=%d file=%s", board, LUT_file);
    if (failing("Load_LUT_file", &code)) { strcpy(g_err, "LUT file format not recognised (stand-in)"); return 0; }
    return 1;
}

int Write_image(int board, unsigned char *image, int wait_for_trigger, int flip_immediate, int output_pulse,
                unsigned int trigger_timeout_ms) {
    int code;
    size_t n = (size_t)g_w * g_h * ((g_depth + 7) / 8);
    rec("Write_image board=%d wait_for_trigger=%d flip_immediate=%d output_pulse=%d timeout_ms=%u", board,
        wait_for_trigger, flip_immediate, output_pulse, trigger_timeout_ms);
    if (!g_created) return -1;
    if (failing("Write_image", &code)) { strcpy(g_err, "DMA transfer failed (stand-in)"); return code; }
    keep_image(image, n);
    return 0;
}

int ImageWriteComplete(int board, unsigned int trigger_timeout_ms) {
    int code;
    rec("ImageWriteComplete board=%d timeout_ms=%u", board, trigger_timeout_ms);
    if (failing("ImageWriteComplete", &code)) { strcpy(g_err, "trigger timeout (stand-in)"); return code; }
    return 0;
}

int Get_image_width(int board) { rec("Get_image_width board=%d", board); return g_w; }
int Get_image_height(int board) { rec("Get_image_height board=%d", board); return g_h; }
int Get_image_depth(int board) { rec("Get_image_depth board=%d", board); return g_depth; }
double Read_SLM_temperature(int board) { rec("Read_SLM_temperature board=%d", board); return g_temp; }
