/**
 * SoftHSM2 reads its configuration file from SOFTHSM2_CONF when the module
 * is first initialised in the process. This is the one place that sets it:
 * before the module is loaded, and to a single file per process (SoftHSM2
 * reads it once).
 */
export function useSoftHsmConfig(path: string | undefined): void {
  if (path) process.env['SOFTHSM2_CONF'] = path;
}
