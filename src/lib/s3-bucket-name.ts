/**
 * The one home of S3's bucket naming rules for general purpose buckets (S3 user guide, "General
 * purpose bucket naming rules"), used by `--out s3://…`, `iotload emulator --s3-bucket` and the
 * emulator's CreateBucket. Returns why a name is not valid, or undefined.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return "must be 3 to 63 characters long";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name))
    return "must be lower-case letters, digits, dots and hyphens, beginning and ending with a letter or digit";
  if (name.includes("..")) return "must not contain two adjacent dots";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "must not be formatted as an IP address";
  return undefined;
}
