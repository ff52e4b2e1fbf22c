/**
 * The default user, kept out of `rabbitmq.conf` and the definitions ConfigMap: the charts render
 * these files from a Secret in an init container, the local twin writes them to files.
 *
 * Why two renderers: a blank RabbitMQ 3.10-3.13 node that is configured to load definitions does
 * NOT seed the default user (log: "Will not seed default virtual host and user: have definitions
 * to load"), so `default_user`/`default_pass` alone leave a cluster nobody can log in to. The user
 * therefore also goes into a definitions file ({@link renderDefaultUserDefinitions}) that sits next
 * to `definitions.json` in the directory `load_definitions` points at; it is imported at every
 * boot, so rotating the Secret and restarting a node resets the password.
 */
import { VHOST, stableJson } from './definitions.js';
import { RenderInputError } from '../shared/index.js';

/** File name of {@link renderDefaultUserDefinitions}'s output inside the definitions directory. */
export const DEFAULT_USER_DEFINITIONS_FILE = 'default-user.json';

/** Username rules: what `rabbitmq.conf` and definitions carry without quoting. */
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;
/** Passwords: printable ASCII except space, `#` (conf comment) and quotes/backslash. */
const PASSWORD = /^[\x21\x24-\x26\x28-\x5b\x5d-\x7e]+$/;
/** Refuse passwords shorter than this. */
export const MIN_PASSWORD_LENGTH = 12;

/** Throws {@link RenderInputError} naming the field when a credential cannot be written safely. */
export function checkCredentials(username: string, password: string): void {
  if (!USERNAME.test(username)) {
    throw new RenderInputError('username', `"${username}" has characters the config formats cannot carry, or is empty or longer than 64`, 'use 1-64 letters, digits, "_", ".", "@" or "-"');
  }
  if (username === 'guest') {
    throw new RenderInputError('username', '"guest" is the well-known account RabbitMQ limits to localhost', 'pick another name, e.g. "feedkit"');
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new RenderInputError('password', `is ${password.length} characters long`, `use at least ${MIN_PASSWORD_LENGTH} random characters, e.g. from "openssl rand -hex 24"`);
  }
  if (!PASSWORD.test(password)) {
    throw new RenderInputError('password', 'contains a space, control character, non-ASCII character, "#", a quote or a backslash, which break the conf format', 'use printable ASCII without those, e.g. "openssl rand -hex 24"');
  }
}

/**
 * conf.d snippet (`default_user` / `default_pass`) that creates the default user (administrator,
 * all permissions on `/`) when a blank node boots WITHOUT definitions to load. With
 * `load_definitions` set it is ignored by 3.10-3.13: use {@link renderDefaultUserDefinitions} too.
 * The password is never echoed in errors.
 */
export function renderDefaultUserConf(username: string, password: string): string {
  checkCredentials(username, password);
  return [
    '# Default user, rendered from a Secret at start; never commit this file.',
    `default_user = ${username}`,
    `default_pass = ${password}`,
    'default_user_tags.administrator = true',
    'default_permissions.configure = .*',
    'default_permissions.read = .*',
    'default_permissions.write = .*',
    '',
  ].join('\n');
}

/**
 * A definitions file that creates the default user (administrator) with all permissions on `/`.
 * RabbitMQ hashes the plain `password` on import (verified on 3.10.8). Write it as
 * {@link DEFAULT_USER_DEFINITIONS_FILE} next to `definitions.json`, mode 0600.
 */
export function renderDefaultUserDefinitions(username: string, password: string): string {
  checkCredentials(username, password);
  return stableJson({
    // The vhost is repeated so this file imports on its own, whatever order the files load in.
    vhosts: [{ name: VHOST }],
    users: [{ name: username, password, tags: 'administrator' }],
    permissions: [{ user: username, vhost: VHOST, configure: '.*', read: '.*', write: '.*' }],
  });
}
