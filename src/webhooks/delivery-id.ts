import { z } from 'zod';

// GitHub's delivery ids are GUIDs; anything else is not GitHub's. The intake refuses an
// X-GitHub-Delivery that does not match, so no stored delivery has such an id.
export const DELIVERY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const deliveryIdSchema = z.string().regex(DELIVERY_ID, 'expected a GitHub delivery id');
