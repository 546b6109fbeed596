/**
 * `s3://bucket/prefix/` locations (no SDK here, so a run that writes to a directory never loads the
 * S3 client): recognised, parsed and printed in one place.
 */

import { UserError } from "../lib/errors.js";
import { bucketNameProblem } from "../lib/s3-bucket-name.js";

/** A bucket and a key prefix: `prefix` is "" (the bucket's root) or ends with "/". */
export interface S3Location {
  bucket: string;
  prefix: string;
}

export function isS3Url(text: string): boolean {
  return /^s3:\/\//i.test(text);
}

/** `s3://bucket/prefix/` → location; `label` names the flag or argument in the UserError. */
export function parseS3Url(url: string, label: string): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(url);
  const bucket = m?.[1] ?? "";
  const problem = bucketNameProblem(bucket);
  if (!m || problem !== undefined)
    throw new UserError(
      `${label} ${url}: not an S3 location; write s3://BUCKET/PREFIX/, where the bucket name ${problem ?? "is given"}.`,
    );
  const rest = m[2] ?? "";
  if (
    rest.split("/").some((part, i, all) => part === "" && i < all.length - 1) ||
    /(^|\/)\.\.?(\/|$)/.test(rest)
  )
    throw new UserError(`${label} ${url}: the prefix has an empty, '.' or '..' path segment.`);
  return { bucket, prefix: rest === "" || rest.endsWith("/") ? rest : `${rest}/` };
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
