import { Reflector } from '@nestjs/core';
import type { Role } from '../users/user.model.js';

/** Restricts a route (or controller) to callers with one of these roles; checked by `RolesGuard`. */
export const Roles = Reflector.createDecorator<Role[]>();
