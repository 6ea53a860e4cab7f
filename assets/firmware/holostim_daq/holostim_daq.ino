/*
 * holostim_daq — laser gate, SLM swap pulse, TTL input and Pockels power for holostim.
 *
 * Board: any Arduino-class board (Uno, Nano, Leonardo, Due, Teensy). Flash with the Arduino IDE or
 * `arduino-cli compile --fqbn arduino:avr:uno assets/firmware/holostim_daq && arduino-cli upload ...`.
 * holostim's host side is src/holostim/hardware/daq/serial.py; a pure-Python emulator of this sketch,
 * used by the tests, is src/holostim/hardware/daq/emulator.py. Keep the three in step.
 *
 * Pins (change below):  GATE_PIN  gate_out, shutter / Pockels enable, HIGH = open
 *                       SWAP_PIN  swap_out, one pulse per SLM swap
 *                       TRIG_PIN  trigger_in, rising edges reported to the host (interrupt pin)
 *                       AO_PIN    power_ao, PWM (add an RC low-pass, e.g. 10 kΩ / 10 µF) or a DAC board
 * Wire the gate so that LOW (and a powered-off or resetting board: add a pull-down) means no light.
 *
 * Protocol: ASCII lines at 115200 baud 8N1, '\n'-terminated ('\r' ignored). One reply per command.
 *   V          -> OK holostim_daq 1 wd=<ms>     version query (protocol 1, watchdog in ms)
 *   H          -> OK <micros>                   heartbeat (board time in µs, 32-bit, wraps)
 *   G1 / G0    -> OK                            gate_out HIGH (open) / LOW (closed)
 *   P <us>     -> OK                            swap_out pulse of <us> µs, 1..100000
 *   A <mV>     -> OK                            power_ao to <mV> millivolts, 0..5000
 *   T1 / T0    -> OK                            report / stop reporting trigger_in edges
 *   other      -> ERR <reason>
 * Unsolicited:  EV T <micros>   rising edge on trigger_in (while reporting)
 *               EV W <micros>   the watchdog closed the gate
 * Watchdog: every command counts as a heartbeat; when none has arrived for more than WATCHDOG_MS
 * while the gate is open, the board pulls gate_out LOW by itself (a crashed host leaves the laser off).
 */

const int GATE_PIN = 2;
const int SWAP_PIN = 4;
const int TRIG_PIN = 3;  // an interrupt-capable pin
const int AO_PIN = 9;    // PWM
const unsigned long WATCHDOG_MS = 100;
const unsigned long MAX_PULSE_US = 100000UL;
const long MAX_AO_MV = 5000;
const int PROTOCOL_VERSION = 1;

volatile unsigned long trigTimes[8];
volatile uint8_t trigHead = 0, trigTail = 0;
bool reporting = false;
bool gateOpen = false;
unsigned long lastCommandMs = 0;
char line[32];
uint8_t lineLen = 0;

void onTrigger() {
  uint8_t next = (trigHead + 1) & 7;
  if (next != trigTail) {  // drop when full rather than overwrite
    trigTimes[trigHead] = micros();
    trigHead = next;
  }
}

void setGate(bool open) {
  digitalWrite(GATE_PIN, open ? HIGH : LOW);
  gateOpen = open;
}

bool parseLong(const char *s, long *out) {
  if (*s == '\0') return false;
  char *end;
  long v = strtol(s, &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

void handle(char *cmd) {
  lastCommandMs = millis();
  if (strcmp(cmd, "V") == 0) {
    Serial.print("OK holostim_daq ");
    Serial.print(PROTOCOL_VERSION);
    Serial.print(" wd=");
    Serial.println(WATCHDOG_MS);
  } else if (strcmp(cmd, "H") == 0) {
    Serial.print("OK ");
    Serial.println(micros());
  } else if (strcmp(cmd, "G1") == 0 || strcmp(cmd, "G0") == 0) {
    setGate(cmd[1] == '1');
    Serial.println("OK");
  } else if (strcmp(cmd, "T1") == 0 || strcmp(cmd, "T0") == 0) {
    noInterrupts();
    trigTail = trigHead;  // forget edges from before
    interrupts();
    reporting = cmd[1] == '1';
    Serial.println("OK");
  } else if ((cmd[0] == 'P' || cmd[0] == 'A') && cmd[1] == ' ') {
    long v;
    if (!parseLong(cmd + 2, &v)) {
      Serial.println("ERR bad number");
    } else if (cmd[0] == 'P') {
      if (v < 1 || (unsigned long)v > MAX_PULSE_US) {
        Serial.println("ERR pulse outside 1..100000 us");
      } else {
        digitalWrite(SWAP_PIN, HIGH);
        if (v > 16000) delay(v / 1000); else delayMicroseconds(v);
        digitalWrite(SWAP_PIN, LOW);
        Serial.println("OK");
      }
    } else {
      if (v < 0 || v > MAX_AO_MV) {
        Serial.println("ERR ao outside 0..5000 mV");
      } else {
        analogWrite(AO_PIN, (int)((v * 255L) / MAX_AO_MV));
        Serial.println("OK");
      }
    }
  } else {
    Serial.println("ERR unknown command");
  }
}

void setup() {
  pinMode(GATE_PIN, OUTPUT);
  setGate(false);  // closed from the first instruction
  pinMode(SWAP_PIN, OUTPUT);
  digitalWrite(SWAP_PIN, LOW);
  pinMode(AO_PIN, OUTPUT);
  analogWrite(AO_PIN, 0);
  pinMode(TRIG_PIN, INPUT);
  attachInterrupt(digitalPinToInterrupt(TRIG_PIN), onTrigger, RISING);
  Serial.begin(115200);
  lastCommandMs = millis();
}

void loop() {
  while (Serial.available() > 0) {
    char c = (char)Serial.read();
    if (c == '\r') continue;
    if (c == '\n') {
      line[lineLen] = '\0';
      if (lineLen > 0) handle(line);
      lineLen = 0;
    } else if (lineLen < sizeof(line) - 1) {
      line[lineLen++] = c;
    } else {
      lineLen = 0;  // an overlong line: drop it
      Serial.println("ERR line too long");
    }
  }
  if (gateOpen && millis() - lastCommandMs > WATCHDOG_MS) {
    setGate(false);
    Serial.print("EV W ");
    Serial.println(micros());
  }
  while (trigTail != trigHead) {
    noInterrupts();
    unsigned long t = trigTimes[trigTail];
    trigTail = (trigTail + 1) & 7;
    interrupts();
    if (reporting) {
      Serial.print("EV T ");
      Serial.println(t);
    }
  }
}
