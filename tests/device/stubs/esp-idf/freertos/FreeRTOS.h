/* Stub of FreeRTOS.h (host test). */
#ifndef FREERTOS_H
#define FREERTOS_H
#include <stdint.h>
typedef long BaseType_t;
typedef unsigned long UBaseType_t;
typedef uint32_t TickType_t;
#define pdTRUE  ((BaseType_t)1)
#define pdFALSE ((BaseType_t)0)
#endif
