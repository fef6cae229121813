import { Option } from '@commander-js/extra-typings';
import { isKeyStoreError } from '../../keystore/errors.js';
import { terminalPrompt } from '../../keystore/pin.js';
import { Pkcs11KeyStore } from '../../keystore/pkcs11/keystore.js';
import { CliError } from '../io.js';
import { useSoftHsmConfig } from '../../keystore/pkcs11/softhsm.js';

export const hsmOption = () =>
  new Option('--hsm <uri>', 'PKCS#11 URI of the token: pkcs11:token=LABEL?module-path=…&pin-source=file:/path (never a PIN)').env(
    'SERIAL_VAULT_HSM_URI',
  );

export const softhsmConfOption = () => new Option('--softhsm-conf <path>', 'SoftHSM2 configuration file (sets SOFTHSM2_CONF)').env('SOFTHSM2_CONF');

export async function openKeyStore(
  options: { hsm?: string | undefined; softhsmConf?: string | undefined },
  extra: { signers?: number; allowDestroy?: boolean } = {},
): Promise<Pkcs11KeyStore> {
  if (!options.hsm) throw new CliError('no HSM given: use --hsm pkcs11:token=…?pin-source=file:… (or set SERIAL_VAULT_HSM_URI)');
  useSoftHsmConfig(options.softhsmConf);
  try {
    return await Pkcs11KeyStore.open({ uri: options.hsm, prompt: terminalPrompt, ...extra });
  } catch (e) {
    if (isKeyStoreError(e)) throw new CliError(`${e.message} [${e.code}]`, 1);
    throw e;
  }
}
