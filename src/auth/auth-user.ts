import type { Role } from '../users/user.model.js';

/** The authenticated caller, as guards put it on `request.user`. */
export interface AuthUser {
  id: number;
  email: string;
  role: Role;
  /** How the request authenticated. */
  via: 'jwt' | 'api-key';
}

/** A request after authentication. */
export interface AuthenticatedRequest {
  user: AuthUser;
  headers: Record<string, string | string[] | undefined>;
}
