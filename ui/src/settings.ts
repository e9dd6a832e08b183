// The Settings screen's pure rules: the options of a device picker, and the microphone
// status in words. No Tauri here (unit-tested with Vitest).
import type { AudioDeviceUi, MicCheck } from "./bindings";

/** One choice of a device picker; `value` "" is the system default. */
export type DeviceOption = { value: string; label: string; missing: boolean };

/**
 * The options of a picker: the system default first, then the devices present (the default
 * device is not repeated as a name of its own when it is the host's "default" alias), then the
 * picked device when it is not connected now — so a pick survives unplugging, marked as such.
 */
export function deviceOptions(present: AudioDeviceUi[], picked: string | null): DeviceOption[] {
  const fallback = present.find((d) => d.is_default)?.name;
  const options: DeviceOption[] = [
    { value: "", label: fallback ? `System default (${fallback})` : "System default", missing: false },
  ];
  const seen = new Set<string>();
  for (const d of present) {
    if (seen.has(d.name)) continue;
    seen.add(d.name);
    options.push({ value: d.name, label: d.name, missing: false });
  }
  if (picked && !seen.has(picked)) {
    options.push({ value: picked, label: `${picked} (not connected)`, missing: true });
  }
  return options;
}

/** The microphone's status in a few words. */
export function micStatusText(check: MicCheck): string {
  switch (check.status) {
    case "granted":
      return "Allowed";
    case "denied":
      return "Not allowed";
    case "not_determined":
      return "Not asked yet";
    case "no_device":
      return "No microphone";
  }
}
