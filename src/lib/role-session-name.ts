/**
 * The STS RoleSessionName rule, in one place: 2–64 characters of `[\w+=,.@-]` (AWS STS API reference,
 * AssumeRole, "RoleSessionName": https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
 * The scenario loader and planner check the rendered template with it, the credential pool checks the
 * names it will send, and the emulator's STS refuses a request that breaks it, as AWS does.
 */

export const ROLE_SESSION_NAME_MIN_LENGTH = 2;
export const ROLE_SESSION_NAME_MAX_LENGTH = 64;
/** The characters STS allows, as its ValidationError quotes them. */
export const ROLE_SESSION_NAME_CHARACTERS = /^[\w+=,.@-]*$/;
/** What STS allows, worded for an error message's "allowed:" part. */
export const ROLE_SESSION_NAME_ALLOWED =
  "2–64 characters of letters, digits and + = , . @ _ - (AWS STS AssumeRole RoleSessionName)";

export function isValidRoleSessionName(name: string): boolean {
  return (
    name.length >= ROLE_SESSION_NAME_MIN_LENGTH &&
    name.length <= ROLE_SESSION_NAME_MAX_LENGTH &&
    ROLE_SESSION_NAME_CHARACTERS.test(name)
  );
}
