/* Stub of ESP-IDF's esp_event.h: only what examples/esp-idf uses, with the
 * SDK's names and signatures, for the host test (tests/device). */
#ifndef ESP_EVENT_H
#define ESP_EVENT_H
#include <stdint.h>
typedef int esp_err_t;
typedef const char *esp_event_base_t;
typedef void (*esp_event_handler_t)(void *event_handler_arg, esp_event_base_t event_base,
                                    int32_t event_id, void *event_data);
#endif
