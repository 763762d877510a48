// Stub of PubSubClient.h 2.8 (host test): the methods Lamp.ino calls, with
// the library's signatures; the test defines them.
#ifndef PUBSUBCLIENT_H
#define PUBSUBCLIENT_H
#include "Arduino.h"
#define MQTT_CALLBACK_SIGNATURE void (*callback)(char *, uint8_t *, unsigned int)
class PubSubClient
{
  public:
    PubSubClient(Client &client);
    PubSubClient &setServer(const char *domain, uint16_t port);
    PubSubClient &setCallback(MQTT_CALLBACK_SIGNATURE);
    bool setBufferSize(uint16_t size);
    bool connect(const char *id);
    bool connected();
    bool loop();
    bool publish(const char *topic, const uint8_t *payload, unsigned int plength);
    bool subscribe(const char *topic);
};
#endif
