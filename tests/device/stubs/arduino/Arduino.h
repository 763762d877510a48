// Stub of Arduino.h (host test of examples/arduino, tests/device).
#ifndef ARDUINO_H
#define ARDUINO_H
#include <stddef.h>
#include <stdint.h>
#define HIGH   1
#define LOW    0
#define OUTPUT 1
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t value);
void delay(unsigned long ms);
unsigned long millis(void);
class Client
{
};
#endif
